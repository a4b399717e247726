"""The write epoch: 8 bytes in a file under ``/dev/shm`` shared by every process on this machine that
uses one database. Whoever commits a write that lookups must see (the API before it answers a write, the
command line when a command ends) writes new bytes there; a process that sees them change knows to take
in the database's change notices before it answers from memory (``gridmap.lookup.live``)."""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import tempfile
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

log = logging.getLogger(__name__)


def epoch_path(url: str) -> Path:
    """Where the write epoch of the database at ``url`` lives on this machine."""
    info = conninfo_to_dict(url)
    key = f"{info.get('host') or 'localhost'}|{info.get('port') or '5432'}|{info.get('dbname') or info.get('user', '')}"
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    return base / f"gridmap-epoch-{hashlib.sha256(key.encode()).hexdigest()[:20]}"


class WriteEpoch:
    """The write epoch of one database on this machine."""

    def __init__(self, url: str):
        self.path = epoch_path(url)
        self._map: mmap.mmap | None = None

    def _mapped(self) -> mmap.mmap | None:
        if self._map is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
                try:
                    if os.fstat(fd).st_size < 8:
                        os.ftruncate(fd, 8)
                    self._map = mmap.mmap(fd, 8)
                finally:
                    os.close(fd)
            except OSError as e:  # no shared file: every lookup then confirms with the database
                log.warning("write epoch %s unusable (%s)", self.path, e)
                return None
        return self._map

    def read(self) -> bytes | None:
        """The epoch now; None when the file cannot be used (then treat every read as after a write)."""
        m = self._mapped()
        return None if m is None else m[:8]

    def bump(self) -> None:
        """Announce a committed write: random bytes, so two writers at once still change the value."""
        m = self._mapped()
        if m is not None:
            m[:8] = os.urandom(8)


def announce_write(url: str) -> None:
    """Tell every lookup index on this machine that a write to ``url``'s database has committed."""
    WriteEpoch(url).bump()
