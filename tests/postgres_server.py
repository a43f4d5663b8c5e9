"""A real, throwaway PostgreSQL server for tests and benches: its own data folder, a free
TCP port on 127.0.0.1, trust authentication for the superuser ``kb``, and a ``kb`` database.

Not a test module. Use it as::

    from tests.postgres_server import start_postgres

    server = start_postgres(tmp_path / "pg")          # fast=False: real fsync, for benches
    try:
        engine = sqlalchemy.create_engine(server.url())   # postgresql+psycopg://kb@127.0.0.1:PORT/kb
        url = server.fresh_database()                      # a new, empty database per test
        server.kill()                                      # SIGKILL the postmaster (chaos tests)
        server.start()                                     # crash recovery, same folder and port
    finally:
        server.destroy()                                   # stop it and delete its folder

or ``with start_postgres(base) as server: ...`` (which destroys it on exit). Tests use the
``postgres`` / ``database_url`` fixtures of tests/conftest.py instead.

How it runs (Debian's ``postgresql`` package, see /work/shared/OFFLINE.md):

- ``initdb`` refuses to run as root, so as root ``initdb`` and ``pg_ctl`` run as the
  ``postgres`` user (``runuser -u postgres --``, else ``su postgres -c``) on a data folder
  that user owns. That user must be able to traverse every folder above it: pytest's
  ``/tmp/pytest-of-root`` is 0700, so the data then goes to a ``/tmp/kb-pg-*`` folder made
  with mkdtemp (0755), and ``BASE/pgdata-location`` says where. The same happens when the
  Unix socket path inside the data folder would be too long for ``sun_path``.
- Settings live in ``DATA/kb_harness.conf`` (included from postgresql.conf) and are
  written again on every ``start()``: port, ``listen_addresses = '127.0.0.1'``, the socket
  in the data folder, ``max_connections = 200``; with ``fast=True`` also ``fsync``,
  ``synchronous_commit`` and ``full_page_writes`` off (never for benches that measure
  writes; a server crash still keeps committed rows then, an OS crash may not).
- The container's PID 1 reaps orphans late: a stopped or killed postmaster stays a zombie
  for a while, and PostgreSQL takes the zombie named in a stale ``postmaster.pid`` or
  socket lock file for a live server ("lock file ... already exists"). Zombies count as
  dead here, and ``start()`` removes those lock files when no server runs.
- Every server started by this module is stopped when the Python process exits (atexit).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql

PG_ROOT = Path("/usr/lib/postgresql")
OS_USER = "postgres"  # runs the server when we are root (initdb refuses root)
SUPERUSER = "kb"
DEFAULT_DATABASE = "kb"
HOST = "127.0.0.1"
CONF_NAME = "kb_harness.conf"
LOG_NAME = "server.log"
# sun_path holds 108 bytes with its NUL; PostgreSQL refuses socket paths longer than that.
SOCKET_PATH_MAX = 100
PG_CTL_TIMEOUT = 60  # seconds: pg_ctl -t
TEST_SETTINGS: dict[str, str] = {"max_connections": "200"}
FAST_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
_PORT_IN_USE = re.compile(r"could not bind|could not create any TCP/IP sockets|already in use")


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with the server programs, else
    ``pg_config --bindir``."""
    found: list[tuple[tuple[int, ...], Path]] = []
    if PG_ROOT.is_dir():
        for version_dir in PG_ROOT.iterdir():
            if not re.fullmatch(r"\d+(\.\d+)*", version_dir.name):
                continue
            bin_dir = version_dir / "bin"
            if _has_server_binaries(bin_dir):
                found.append((tuple(int(part) for part in version_dir.name.split(".")), bin_dir))
    if found:
        return max(found)[1]
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
            )
            bin_dir = Path(out.stdout.strip())
            if out.returncode == 0 and _has_server_binaries(bin_dir):
                return bin_dir
    return None


def postgres_available() -> bool:
    """Whether PostgreSQL's server binaries (initdb, pg_ctl, postgres) are installed."""
    return find_bin_dir() is not None


def require_postgres() -> None:
    """Skip the calling test without the server binaries; fail instead when the environment
    sets ``KB_REQUIRE_POSTGRES=1`` (CI)."""
    if postgres_available():
        return
    import pytest  # only tests call this; benches import the module without pytest

    reason = (
        f"PostgreSQL server binaries not found under {PG_ROOT}/*/bin or via pg_config "
        "(install Debian's postgresql package to run these tests)"
    )
    if os.environ.get("KB_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason + "; KB_REQUIRE_POSTGRES=1 requires them")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """One PostgreSQL server (a postmaster) on ``data_dir``, reachable at ``host:port``."""

    host: str
    port: int
    user: str
    data_dir: Path
    bin_dir: Path
    fast: bool = False
    # OS user that owns data_dir and runs initdb/pg_ctl; None: the current user.
    run_as: str | None = None
    # Extra server settings (name -> value as written in postgresql.conf, quotes included).
    settings: dict[str, str] = field(default_factory=dict)
    # A /tmp/kb-pg-* folder made because the requested base was unusable; destroy() removes it.
    scratch_dir: Path | None = None
    _names: itertools.count[int] = field(
        default_factory=itertools.count, init=False, repr=False, compare=False
    )
    _owner_pid: int = field(default_factory=os.getpid, init=False, repr=False, compare=False)

    # --- addresses ---------------------------------------------------------------------

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        """SQLAlchemy URL: ``postgresql+psycopg://kb@127.0.0.1:PORT/DATABASE``."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = DEFAULT_DATABASE) -> str:
        """libpq URI for psycopg / psql: ``postgresql://kb@127.0.0.1:PORT/DATABASE``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def connect(
        self, database: str = DEFAULT_DATABASE, *, autocommit: bool = True
    ) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(self.conninfo(database), autocommit=autocommit, connect_timeout=10)

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_NAME

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    # --- databases ---------------------------------------------------------------------

    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name``; returns its SQLAlchemy URL."""
        with self.connect("postgres") as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def fresh_database(self) -> str:
        """A new, uniquely named, empty database (per-test isolation); returns its URL."""
        name = f"t{os.getpid()}_{next(self._names)}_{secrets.token_hex(3)}"
        return self.create_database(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS ``name``, ending the sessions still connected to it."""
        with self.connect("postgres") as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # --- the server process ------------------------------------------------------------

    def pid(self) -> int | None:
        """The postmaster's pid from ``postmaster.pid`` (None without the file)."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            return int(first)
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        pid = self.pid()
        return pid is not None and _is_postgres_process(pid)

    def start(self) -> None:
        """Start the server (again) on the same data folder and port; waits until it
        accepts connections. No-op when it runs already."""
        if self.is_running():
            return
        # Lock files left by kill() or a crash name a pid that is gone or, until PID 1 reaps
        # it, a zombie: PostgreSQL's own check (kill(pid, 0)) takes a zombie for a live
        # postmaster and refuses to start. The process is dead, so they go.
        for lock in [self.data_dir / "postmaster.pid", *self.data_dir.glob(".s.PGSQL.*.lock")]:
            lock.unlink(missing_ok=True)
        self._write_conf()
        result = self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(PG_CTL_TIMEOUT),
            ],
            timeout=PG_CTL_TIMEOUT + 30,
        )
        if result.returncode != 0 or not self.is_running():
            raise RuntimeError(self._failure("pg_ctl start", result))
        _register_atexit(self)

    def stop(self) -> None:
        """Fast shutdown (``pg_ctl stop -m fast``); no-op when it is not running."""
        if not self.is_running():
            return
        result = self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "stop",
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                str(PG_CTL_TIMEOUT),
            ],
            timeout=PG_CTL_TIMEOUT + 30,
        )
        if result.returncode != 0 and self.is_running():
            raise RuntimeError(self._failure("pg_ctl stop", result))

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash, for chaos tests), then wait for its children,
        which notice and exit on their own, so that ``start()`` can run crash recovery."""
        pid = self.pid()
        if pid is None or not _is_postgres_process(pid):
            return
        children = [child for child in _all_pids() if _parent_pid(child) == pid]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10.0
        stragglers_killed = False
        while True:
            left = [p for p in [pid, *children] if _is_postgres_process(p)]
            if not left:
                return
            if time.monotonic() > deadline - 5.0 and not stragglers_killed:
                for p in left:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p, signal.SIGKILL)
                stragglers_killed = True
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres processes {left} outlived SIGKILL")
            time.sleep(0.02)

    def destroy(self) -> None:
        """Stop the server and delete its data folder (and the /tmp scratch folder)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.scratch_dir is not None:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)
        atexit.unregister(self._stop_at_exit)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.destroy()

    # --- internals ---------------------------------------------------------------------

    def _stop_at_exit(self) -> None:
        if os.getpid() != self._owner_pid:  # a forked child exiting must not stop it
            return
        with contextlib.suppress(Exception):
            self.stop()

    def _write_conf(self) -> None:
        values = {
            "listen_addresses": _quote(self.host),
            "port": str(self.port),
            "unix_socket_directories": _quote(str(self.data_dir)),
            **TEST_SETTINGS,
            **(FAST_SETTINGS if self.fast else {}),
            **self.settings,
        }
        conf = self.data_dir / CONF_NAME
        conf.write_text(
            "# Written by tests/postgres_server.py on every start; edits are lost.\n"
            + "".join(f"{name} = {value}\n" for name, value in values.items())
        )
        main_conf = self.data_dir / "postgresql.conf"
        include = f"include_if_exists = '{CONF_NAME}'\n"
        if include not in main_conf.read_text():
            with main_conf.open("a") as handle:
                handle.write("\n" + include)
        self._chown(conf)

    def _initdb(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._chown(self.data_dir)
        args = [
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-A",
            "trust",
            "-U",
            self.user,
            "--encoding",
            "UTF8",
            "--locale",
            "C",
        ]
        if self.fast:
            args.append("--no-sync")  # skips initdb's final fsync of every file (0.1-0.2 s)
        result = self._run(args, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(self._failure("initdb", result))

    def _chown(self, path: Path) -> None:
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program as ``run_as`` (or as ourselves)."""
        if self.run_as is None:
            command = args
        elif shutil.which("runuser") is not None:
            command = ["runuser", "-u", self.run_as, "--", *args]
        else:
            command = ["su", self.run_as, "-s", "/bin/sh", "-c", shlex.join(args)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"  # English messages in the log, whatever the caller's locale
        try:
            return subprocess.run(
                command,
                # The postgres user may not enter the caller's working directory.
                cwd=self.data_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(
                f"{shlex.join(command)} did not finish in {timeout:.0f} s\n"
                f"--- server log tail ({self.log_file}) ---\n{self.log_tail()}"
            ) from exc

    def _failure(self, what: str, result: subprocess.CompletedProcess[str]) -> str:
        return (
            f"{what} failed (exit {result.returncode}) for {self.data_dir} on port {self.port}\n"
            f"--- output ---\n{(result.stdout + result.stderr).strip()}\n"
            f"--- server log tail ({self.log_file}) ---\n{self.log_tail()}"
        )


def start_postgres(
    base: Path,
    *,
    fast: bool = False,
    settings: Mapping[str, str] | None = None,
    bin_dir: Path | None = None,
) -> PostgresServer:
    """initdb a cluster under ``base`` (or reuse one already there) and start it on a free
    port of 127.0.0.1; ensures a ``kb`` database. ``fast=True`` turns fsync,
    synchronous_commit and full_page_writes off (tests only, never benches); ``settings``
    adds or overrides server settings. Raises RuntimeError with the server log tail."""
    bin_dir = bin_dir or find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(f"no PostgreSQL server binaries under {PG_ROOT}/*/bin or pg_config")
    run_as = OS_USER if os.geteuid() == 0 else None
    if run_as is not None:
        try:
            pwd.getpwnam(run_as)
        except KeyError:
            raise RuntimeError(
                f"running as root but there is no {run_as!r} user to run PostgreSQL as "
                "(initdb refuses root; Debian's postgresql package creates that user)"
            ) from None

    base = base.resolve()
    base.mkdir(parents=True, exist_ok=True)
    data_dir = base / "pgdata"
    scratch_dir: Path | None = None
    socket_path = data_dir / ".s.PGSQL.65535"
    if len(str(socket_path)) > SOCKET_PATH_MAX or (
        run_as is not None and not _traversable_by(base, run_as)
    ):
        scratch_dir = Path(tempfile.mkdtemp(prefix="kb-pg-", dir="/tmp"))
        scratch_dir.chmod(0o755)
        data_dir = scratch_dir / "pgdata"
        (base / "pgdata-location").write_text(f"{data_dir}\n")

    server = PostgresServer(
        host=HOST,
        port=free_port(),
        user=SUPERUSER,
        data_dir=data_dir,
        bin_dir=bin_dir,
        fast=fast,
        run_as=run_as,
        settings=dict(settings or {}),
        scratch_dir=scratch_dir,
    )
    try:
        if not (data_dir / "PG_VERSION").exists():
            server._initdb()
        for attempt in range(5):
            try:
                server.start()
                break
            except RuntimeError:
                # Someone else took the free port between free_port() and bind(): try another.
                if attempt == 4 or not _PORT_IN_USE.search(server.log_tail(10)):
                    raise
                server.port = free_port()
        with server.connect("postgres") as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DEFAULT_DATABASE,)
            ).fetchone()
        if exists is None:
            server.create_database(DEFAULT_DATABASE)
    except BaseException:
        with contextlib.suppress(Exception):
            server.stop()
        if scratch_dir is not None:
            shutil.rmtree(scratch_dir, ignore_errors=True)
        raise
    return server


# --- helpers -------------------------------------------------------------------------------


def _has_server_binaries(bin_dir: Path) -> bool:
    return all((bin_dir / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


def _traversable_by(path: Path, user: str) -> bool:
    """Whether ``user`` may enter ``path`` and every folder above it."""
    entry = pwd.getpwnam(user)
    groups = set(os.getgrouplist(user, entry.pw_gid))
    for folder in (path, *path.parents):
        info = folder.stat()
        if info.st_uid == entry.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def _proc_stat(pid: int) -> tuple[str, str, int] | None:
    """(command name, state, parent pid) from /proc/PID/stat; None when there is no such pid."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    state, ppid = raw[raw.rindex(")") + 2 :].split()[:2]
    return name, state, int(ppid)


def _is_postgres_process(pid: int) -> bool:
    """Alive (zombies count as dead) and named postgres (a reused pid is not the server)."""
    info = _proc_stat(pid)
    return info is not None and info[0] == "postgres" and info[1] not in ("Z", "X")


def _parent_pid(pid: int) -> int | None:
    info = _proc_stat(pid)
    return None if info is None else info[2]


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _register_atexit(server: PostgresServer) -> None:
    atexit.unregister(server._stop_at_exit)  # once per server, however often it starts
    atexit.register(server._stop_at_exit)
