"""What an import found and did (or would do, in a dry run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from gridmap.io.messages import field_name, in_language


@dataclass(frozen=True)
class RowError:
    """One bad row: its 1-based position in the file (0 for the file as a whole), its code when it has one,
    the column at fault when one is, and why (in English; ``reason_zh`` when the rule wrote its own Chinese)."""

    row: int
    code: str | None
    reason: str
    field: str | None = None
    reason_zh: str | None = None

    def text(self, lang: str = "en") -> str:
        """Why, in ``lang`` (``zh`` or ``en``)."""
        if lang == "zh" and self.reason_zh:
            return self.reason_zh
        return in_language(self.reason, lang)

    def label(self, lang: str = "en") -> str:
        """Where: ``row 12 (4403…)`` / ``第 12 行（4403…）``, or the file."""
        if lang == "zh":
            where = "文件" if self.row == 0 else f"第 {self.row} 行"
            return where + (f"（{self.code}）" if self.code else "")
        where = "file" if self.row == 0 else f"row {self.row}"
        return where + (f" ({self.code})" if self.code else "")

    def __str__(self) -> str:
        return f"{self.label()}: {self.reason}"


@dataclass
class ImportReport:
    """Counts, problems and side findings of one import of one level, and how the file was read
    (``source``: crs and where it came from, encoding and where it came from, renamed columns, a sample
    of the names as decoded)."""

    level: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    committed: bool = False
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unassigned: list[str] = field(default_factory=list)  # building codes in no micro-grid
    source: dict = field(default_factory=dict)
    rules_s: float = 0.0  # seconds spent judging the written state by the geometry rules

    @property
    def ok(self) -> bool:
        """True when no row was refused."""
        return not self.errors

    def error(
        self, row: int, code: str | None, reason: str, field: str | None = None, reason_zh: str | None = None
    ) -> None:
        """Record a refused row."""
        self.errors.append(RowError(row, code, reason, field, reason_zh))

    def table(self, lang: str = "zh") -> list[dict[str, str]]:
        """The errors as rows of a table (row, code, field, problem), headed in ``lang``."""
        heads = ("行", "编码", "字段", "问题") if lang == "zh" else ("row", "code", "field", "problem")
        whole = "文件" if lang == "zh" else "file"
        return [
            dict(zip(heads, (str(e.row) if e.row else whole, e.code or "", field_name(e.field, lang), e.text(lang)),
                     strict=True))
            for e in self.errors
        ]  # fmt: skip

    def as_dict(self, lang: str = "en") -> dict:
        """A JSON-ready view; each error also carries its ``message`` in ``lang``."""
        out = asdict(self)
        out["ok"] = self.ok
        for doc, e in zip(out["errors"], self.errors, strict=True):
            doc["message"] = e.text(lang)
        return out
