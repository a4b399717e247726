"""Keeping a process's ``LookupIndex`` current with the database, and knowing when it is.

**Change notices.** Triggers on every table a lookup reads (migration 0009) send
``NOTIFY gridmap_lookup, '<kind>:<ids>'`` in the writing transaction, so each notice arrives when, and
only if, the write commits; ``<ids>`` is ``*`` for a big or truncating write. Each process LISTENs on
its own connection, before it builds, so nothing committed after its snapshot goes unseen.

**Read-your-writes.** A notice reaches a listener a moment after the commit, not before the writer is
answered, so each process also reads a *write epoch*: 8 bytes in a file under ``/dev/shm`` shared by
every process on this machine that uses the same database. Whoever commits a write (the API's
``api.write_epoch`` middleware before it answers, the command line after each command) writes new bytes
there. A lookup that sees the epoch changed first sends ``SELECT 1`` on the listening connection:
PostgreSQL hands a listener every notice already committed before it answers that query, so the
changes are in hand, and applied, before the lookup is answered. Without a change the check is a read
of 8 bytes and a non-blocking read of the socket: no round trip.

**Patches and rebuilds.** Notices naming rows are applied at once (the rows are re-read); ``*``, a lost
connection or the first start rebuild the whole index in a background thread, and lookups are answered
by SQL until it is ready. The index is never used while a change it has not applied may be pending.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import psycopg

from gridmap.db.connect import configure_json
from gridmap.db.epoch import WriteEpoch
from gridmap.lookup.index import LookupIndex

CHANNEL = "gridmap_lookup"
log = logging.getLogger(__name__)
# After a failed connection or build, wait this long before the next try (SQL answers meanwhile).
RETRY_S = 2.0


def parse_notice(payload: str) -> tuple[str, set[int] | None]:
    """``'area:3,5'`` → ``("area", {3, 5})``; ``'area:*'`` → ``("area", None)`` (everything)."""
    kind, _, ids = payload.partition(":")
    if ids == "*":
        return kind, None
    return kind, {int(i) for i in ids.split(",") if i}


class LiveIndex:
    """A process's lookup index, current with every committed write, or None while it cannot be.

    ``start()`` opens the listening connection and builds in the background; ``current()`` returns
    the index fit to answer now, or None (answer by SQL). Safe to call from any thread."""

    def __init__(self, url: str):
        self.url = url
        self.epoch = WriteEpoch(url)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._readers = 0  # lookups reading the index now; a patch waits for them
        self._conn: psycopg.Connection | None = None
        self._index: LookupIndex | None = None
        self._pending: dict[str, set[int]] = defaultdict(set)
        self._full = True  # a rebuild is owed
        self._building: Future | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookup-index")
        self._seen_epoch: bytes | None = None
        self._retry_at = 0.0
        self._closed = False
        self.status: dict = {"state": "starting"}

    def start(self) -> None:
        """Begin: connect and build in the background (lookups use SQL until the index is ready)."""
        with self._lock:
            self._connect_and_build()

    def close(self) -> None:
        """Stop listening and drop the index."""
        with self._lock:
            self._closed = True
            self._index = None
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _on_notice(self, notice: psycopg.Notify) -> None:
        kind, ids = parse_notice(notice.payload)
        if ids is None:
            self._full = True
        else:
            self._pending[kind] |= ids

    def _connect_and_build(self) -> None:
        if self._closed or time.monotonic() < self._retry_at:
            return
        try:
            if self._conn is None or self._conn.closed:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=3, options="-c jit=off")
                conn.add_notify_handler(self._on_notice)
                conn.execute(f"LISTEN {CHANNEL}")
                self._conn = conn
                self._full = True
        except psycopg.Error as e:
            self._failed(e)
            return
        if self._full and self._building is None:
            self._full = False
            self._pending.clear()  # the new snapshot, taken after LISTEN, holds every change before now
            self.status = {"state": "building"}
            self._building = self._pool.submit(self._build)

    def _build(self) -> LookupIndex:
        with configure_json(psycopg.connect(self.url, options="-c jit=off")) as conn:
            return LookupIndex(conn)

    def _failed(self, error: Exception) -> None:
        log.warning("lookup index unavailable, answering from SQL: %s", error)
        self.status = {
            "state": "unavailable",
            "error": str(error).splitlines()[0] if str(error) else type(error).__name__,
        }
        self._index = None
        self._full = True  # notices may have been missed meanwhile
        self._retry_at = time.monotonic() + RETRY_S
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def reading(self) -> Iterator[LookupIndex | None]:
        """The current index (or None), unchanged until the block ends. Keep the block short: changes
        wait for it. Not to be nested."""
        with self._lock:
            index = self.current()
            if index is not None:
                self._readers += 1
        try:
            yield index
        finally:
            if index is not None:
                with self._lock:
                    self._readers -= 1
                    self._changed.notify_all()

    def _quiet(self) -> None:
        """Wait (holding the lock between waits) until no lookup is reading the index."""
        while self._readers:
            self._changed.wait()

    def current(self) -> LookupIndex | None:
        """The index with every change committed before this call applied, or None (use SQL). The
        caller must not read it while another thread may change it: use ``reading``."""
        with self._lock:
            if self._closed:
                return None
            if self._conn is None:
                self._connect_and_build()
                return None
            try:
                self._catch_up()
            except psycopg.Error as e:
                self._failed(e)
                return None
            if self._building is not None:
                if not self._building.done():
                    return None
                self._quiet()
                self._finish_build()
            if self._full:
                self._connect_and_build()
                return None
            if self._index is not None and self._pending:
                changes, self._pending = self._pending, defaultdict(set)
                self._quiet()
                try:
                    self._index.patch(self._conn, changes)
                except psycopg.Error as e:
                    self._failed(e)
                    return None
                self._index_changed()
            return self._index

    def _catch_up(self) -> None:
        """Collect every notice already sent; after a write on this machine, confirm with a round trip."""
        epoch = self.epoch.read()
        if epoch is None or epoch != self._seen_epoch:
            self._conn.execute("SELECT 1")  # notices committed before this are delivered before its answer
            self._seen_epoch = epoch
        pgconn = self._conn.pgconn
        pgconn.consume_input()
        while (n := pgconn.notifies()) is not None:
            self._on_notice(psycopg.Notify(n.relname.decode(), n.extra.decode(), n.be_pid))

    def _finish_build(self) -> None:
        future, self._building = self._building, None
        try:
            self._index = future.result()
        except Exception as e:  # a failed build leaves SQL answering; the next request retries later
            self._full = True
            self._failed(e)
            return
        self._index_changed()

    def _index_changed(self) -> None:
        index = self._index
        self.status = {
            "state": "ready",
            "build_s": round(index.build_seconds, 2),
            "microgrid_pieces": len(index.microgrids),
            "buildings": len(index.buildings),
            "areas": len(index.rows),
            "people": len(index.people),
        }

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Block until the index is ready (tests, benchmarks, the CLI); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.current() is not None:
                return True
            time.sleep(0.05)
        return False
