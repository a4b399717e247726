"""What an import found and did (or would do, in a dry run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class RowError:
    """One bad row: its 1-based position in the file, its code when it has one, and why."""

    row: int
    code: str | None
    reason: str

    def __str__(self) -> str:
        label = f"row {self.row}" + (f" ({self.code})" if self.code else "")
        return f"{label}: {self.reason}"


@dataclass
class ImportReport:
    """Counts, problems and side findings of one import of one level."""

    level: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    committed: bool = False
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unassigned: list[str] = field(default_factory=list)  # building codes in no micro-grid

    @property
    def ok(self) -> bool:
        """True when no row was refused."""
        return not self.errors

    def error(self, row: int, code: str | None, reason: str) -> None:
        """Record a refused row."""
        self.errors.append(RowError(row, code, reason))

    def as_dict(self) -> dict:
        """A JSON-ready view."""
        out = asdict(self)
        out["ok"] = self.ok
        return out
