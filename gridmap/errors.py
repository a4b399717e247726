"""Domain errors. The API maps each class to one HTTP status in ``api/errors.py``."""

from __future__ import annotations


class GridmapError(Exception):
    """Base of every error the core raises on purpose."""

    code = "error"


class EmbeddedDatabaseError(GridmapError):
    """The embedded PostgreSQL cluster could not be found, made, started or stopped."""

    code = "embedded_database"


class DatabaseUnavailable(GridmapError):
    """The database cannot be reached right now; the caller may retry."""

    code = "database_unavailable"


class QueryTimeout(GridmapError):
    """A query ran past the statement timeout; asking for less (a smaller batch or area) may succeed."""

    code = "timeout"


class InvalidInput(GridmapError):
    """Input that breaks a rule; ``field`` names the offending part when known."""

    code = "invalid_input"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class NotFound(GridmapError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    code = "not_found"


class Unauthenticated(GridmapError):
    """No valid credentials were given where they are required."""

    code = "unauthenticated"


class Forbidden(GridmapError):
    """The caller's role may not do this anywhere."""

    code = "forbidden"


class VersionConflict(GridmapError):
    """The write was based on a version that is no longer current (optimistic concurrency)."""

    code = "version_conflict"

    def __init__(self, message: str, provided: int | None, current: int | None):
        super().__init__(message)
        self.provided = provided
        self.current = current


class DraftRefused(InvalidInput):
    """A draft whose changes would break coverage; ``findings`` lists each problem."""

    code = "draft_refused"

    def __init__(self, message: str, findings: list[str]):
        super().__init__(message, "draft")
        self.findings = findings


class ConfirmationRequired(DraftRefused):
    """A draft that may be saved only once the caller accepts a consequence (``findings`` says which)."""

    code = "confirmation_required"


class StateConflict(GridmapError):
    """The action does not apply to the object in its present state (a workflow transition not allowed)."""

    code = "invalid_transition"


class UnsupportedMedia(GridmapError):
    """An upload of a type that is not accepted."""

    code = "unsupported_media_type"


class PreconditionRequired(GridmapError):
    """An edit came without the version it was based on (If-Match)."""

    code = "precondition_required"


class UnsafeDatabase(GridmapError):
    """The database is configured so that acknowledged writes could be lost."""

    code = "unsafe_database"


class RetryLater(GridmapError):
    """Refused for now; the same request may succeed after ``retry_after_s`` seconds."""

    code = "retry_later"

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimited(RetryLater):
    """The caller tried too often (failed logins for an account or from an address)."""

    code = "rate_limited"


class Busy(RetryLater):
    """The server is at its bound for this kind of work (password checks) right now."""

    code = "busy"
