"""An embedded PostGIS cluster under the data directory: initdb once, pg_ctl start/stop, status.

PostgreSQL's ``initdb`` and ``postgres`` refuse to run as root, so when we are root every server
command runs as the ``postgres`` system user (``runuser -u postgres --``) and the cluster
directory is handed to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from gridmap.errors import EmbeddedDatabaseError

DATABASE_NAME = "gridmap"
SUPERUSER = "postgres"
_PG_ROOT = Path("/usr/lib/postgresql")


def find_bindir() -> Path:
    """Return the bin directory of the newest installed PostgreSQL server that has PostGIS."""
    candidates = []
    if _PG_ROOT.is_dir():
        for entry in _PG_ROOT.iterdir():
            if not (entry / "bin" / "pg_ctl").exists():
                continue
            has_postgis = Path(f"/usr/share/postgresql/{entry.name}/extension/postgis.control").exists()
            try:
                major = int(entry.name)
            except ValueError:
                continue
            candidates.append((has_postgis, major, entry / "bin"))
    if not candidates:
        pg_ctl = shutil.which("pg_ctl")
        if pg_ctl:
            return Path(pg_ctl).resolve().parent
        raise EmbeddedDatabaseError(
            "No PostgreSQL server found. Install it with: apt-get install postgresql postgresql-15-postgis-3"
        )
    candidates.sort()
    has_postgis, major, bindir = candidates[-1]
    if not has_postgis:
        raise EmbeddedDatabaseError(
            f"PostgreSQL {major} is installed without PostGIS. "
            f"Install it with: apt-get install postgresql-{major}-postgis-3"
        )
    return bindir


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _as_server_user(argv: list[str]) -> list[str]:
    """Prefix a command so it runs as the postgres user when we are root."""
    if _running_as_root():
        return ["runuser", "-u", SUPERUSER, "--", *argv]
    return argv


def _is_zombie(pid: int) -> bool:
    """Say whether ``pid`` has exited but was never reaped. In containers whose PID 1 does not reap
    (Docker without ``--init``), a killed postmaster stays a zombie: ``pg_ctl status`` and the server's
    own lock check still see it alive, and the cluster could never start again."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _live_users_of(directory: Path) -> list[int]:
    """Return the live processes whose working directory is ``directory`` (a dead postmaster's
    backends keep theirs until they notice and exit)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) == directory and not _is_zombie(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(_as_server_user(argv), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise EmbeddedDatabaseError(f"{' '.join(argv)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    """Whether PostgreSQL could listen on ``port``: it binds with SO_REUSEADDR, so connections left in
    TIME_WAIT by a crashed server do not count as taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class Status:
    """What ``status`` found: whether the cluster exists, runs, and on which port."""

    initialised: bool
    running: bool
    port: int | None

    def url(self, database: str = DATABASE_NAME) -> str | None:
        """The connection URL of a running cluster, else None."""
        if not self.running or self.port is None:
            return None
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"


class EmbeddedCluster:
    """A PostgreSQL cluster in ``directory``, owned by this project."""

    def __init__(self, directory: Path):
        self.directory = Path(directory).absolute()
        self.pgdata = self.directory / "data"
        self.logfile = self.directory / "server.log"
        # The port of the first start, kept so a restart (after a crash, say) comes back where the running
        # app's pool is still connecting to, and the app recovers without a restart of its own.
        self.portfile = self.directory / "port"
        self._bindir: Path | None = None

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    def _tool(self, name: str) -> str:
        return str(self.bindir / name)

    def status(self) -> Status:
        """Report whether the cluster is initialised and running, reading ``postmaster.pid``."""
        initialised = (self.pgdata / "PG_VERSION").exists()
        if not initialised:
            return Status(False, False, None)
        proc = _run([self._tool("pg_ctl"), "-D", str(self.pgdata), "status"], check=False)
        running = proc.returncode == 0 and self._postmaster_pid() not in self._dead_postmasters()
        port = None
        pidfile = self.pgdata / "postmaster.pid"
        if running and pidfile.exists():
            lines = pidfile.read_text().splitlines()
            # postmaster.pid line 4 holds the port the server listens on.
            if len(lines) >= 4 and lines[3].strip().isdigit():
                port = int(lines[3].strip())
        return Status(True, running, port)

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.pgdata / "postmaster.pid").read_text().splitlines()[0].strip()
        except (OSError, IndexError):
            return None
        return int(first) if first.isdigit() else None

    def _dead_postmasters(self) -> set[int]:
        pid = self._postmaster_pid()
        return {pid} if pid is not None and _is_zombie(pid) else set()

    def _clear_stale_lock(self, wait_s: float = 30.0) -> None:
        """Remove the lock file of a postmaster that died unreaped, once its backends are gone (the server's
        own check would take the zombie for a live server and refuse to start)."""
        if not self._dead_postmasters():
            return
        deadline = time.monotonic() + wait_s
        while _live_users_of(self.pgdata.resolve()):
            if time.monotonic() > deadline:
                raise EmbeddedDatabaseError(f"the backends of a crashed server still run in {self.pgdata}")
            time.sleep(0.2)
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def _prepare_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if _running_as_root():
            # Only the top directory is ours; initdb and pg_ctl create everything inside it as postgres.
            pw = pwd.getpwnam(SUPERUSER)
            os.chown(self.directory, pw.pw_uid, pw.pw_gid)
            # The server user must be able to reach the directory through its parents.
            for parent in self.directory.parents:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)

    def init(self) -> bool:
        """Run initdb once; return True when a new cluster was made."""
        if (self.pgdata / "PG_VERSION").exists():
            return False
        self._prepare_directory()
        _run(
            [
                self._tool("initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
        return True

    def recorded_port(self) -> int | None:
        """The port this cluster was last started on, or None before its first start."""
        try:
            text = self.portfile.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() and 0 < int(text) < 65536 else None

    def _choose_port(self, port: int | None) -> int:
        """The port given, else the recorded one when nothing else listens there, else a free one."""
        if port:
            return port
        recorded = self.recorded_port()
        if recorded and _port_is_free(recorded):
            return recorded
        return free_port()

    def start(self, port: int | None = None) -> Status:
        """Start the server on 127.0.0.1 and create the database. The port is ``port`` if given, else the
        one of the previous start (recorded under the cluster directory) while it is free, else a free one;
        the port used is recorded for the next start."""
        self.init()
        current = self.status()
        if current.running:
            return current
        self._prepare_directory()
        self._clear_stale_lock()
        port = self._choose_port(port)
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{self.directory}' "
            "-c fsync=on -c synchronous_commit=on"
        )
        _run(
            [
                self._tool("pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.logfile),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        status = self.status()
        if not status.running:
            raise EmbeddedDatabaseError(f"PostgreSQL did not start; see {self.logfile}")
        self._create_database(status.port or port)
        self.portfile.write_text(f"{status.port or port}\n")
        return Status(True, True, status.port or port)

    def _create_database(self, port: int) -> None:
        import psycopg

        admin = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')

    def stop(self) -> bool:
        """Stop the server (fast shutdown); return True when it was running."""
        if not self.status().running:
            return False
        _run([self._tool("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"])
        return True

    def destroy(self) -> None:
        """Stop the server and delete the cluster directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
