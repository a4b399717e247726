"""How every ``gridmap`` command ends when it cannot do its work: one message on stderr, one exit code.

The exit codes are the same for every command, so a script can tell a typo from a broken map:

* 0 — done.
* 1 — done, but what was found is not clean (an import or a file lookup with bad rows, a coverage check
  with errors), or the system failed (the database unreachable, unsafe or on an old schema; the embedded
  cluster broken). Worth a look; running the same command later may succeed.
* 2 — refused: the command line or a value in it is wrong (an unknown level or area code, a bad CRS or
  coordinate, a key without a jurisdiction). typer's own usage errors are 2 as well. Nothing was changed.
* 3 — ``gridmap db status`` only: the database is not running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import psycopg
import typer
from rich.console import Console
from rich.markup import escape

from gridmap.errors import DatabaseUnavailable, EmbeddedDatabaseError, GridmapError, UnsafeDatabase
from gridmap.io.locate import BadRows

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_REFUSED = 2
EXIT_NOT_RUNNING = 3

# Errors of the machinery rather than of what the user typed.
_SYSTEM = (DatabaseUnavailable, EmbeddedDatabaseError, UnsafeDatabase)

console = Console(stderr=True)


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    """Print ``message`` as an error on stderr and end the command with ``code``."""
    console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def exit_code(exc: Exception) -> int:
    """The exit code for an error the core raised: 1 for bad rows in a file or a failing system, 2 for a
    refused command line."""
    if isinstance(exc, (BadRows, *_SYSTEM, psycopg.Error)):
        return EXIT_PROBLEMS
    return EXIT_REFUSED


@contextmanager
def reported(translate: Callable[[str], str] | None = None) -> Iterator[None]:
    """Run a command's body; a core error or a database error ends it with its message and exit code
    (never a traceback). ``translate`` puts a core error's message into the command's language."""
    try:
        yield
    except GridmapError as exc:
        fail(translate(str(exc)) if translate else str(exc), exit_code(exc))
    except psycopg.OperationalError as exc:
        fail(f"cannot use the database: {_first_line(exc)}", exit_code(exc))
    except psycopg.Error as exc:
        # The server answered but refused the statement: most often a schema older than this code.
        fail(f"{_first_line(exc)} (is the schema current? run `gridmap db migrate`)", exit_code(exc))


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
