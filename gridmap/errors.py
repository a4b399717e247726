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


class InvalidInput(GridmapError):
    """Input that breaks a rule; ``field`` names the offending part when known."""

    code = "invalid_input"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class NotFound(GridmapError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    code = "not_found"
