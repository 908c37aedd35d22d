"""A throwaway PostgreSQL cluster owned by the test run (field notes: "PostgreSQL in tests").

``initdb`` into a fresh temporary directory, ``pg_ctl start`` with a Unix socket only (no TCP
port), fsync off (the cluster dies with the run). PostgreSQL refuses to run as root: as root,
the cluster belongs to an unprivileged system user (``commune-pgtest``, created on first use)
and its commands run through ``runuser``. Each test gets its own database, copied from a
template that is migrated once per run, and dropped afterwards.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

PG_USER = "commune-pgtest"
SUPERUSER = "postgres"
TEMPLATE = "central_template"


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable("PostgreSQL's server programs are missing (initdb): run ./dev test, which installs "
                              "Debian's postgresql package")


def _ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", PG_USER], check=True, capture_output=True)
        return pwd.getpwnam(PG_USER)


class PostgresCluster:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="commune-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.port = 5432
        self._as: list[str] = []
        self._counter = itertools.count(1)
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            user = _ensure_user()
            for path in (self.root, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", PG_USER, "--"]

    def _run(self, *argv: str) -> None:
        result = subprocess.run([*self._as, *argv], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"{' '.join(argv[:2])} failed: {result.stderr or result.stdout}\n{tail}")

    def start(self, *, durable: bool = False) -> PostgresCluster:
        """Start the cluster; ``durable`` keeps PostgreSQL's production defaults (fsync, full
        page writes) for benchmarks that measure disk writes, otherwise tests run without."""
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "--encoding=UTF8", "--no-locale", "--no-sync")
        unsafe = "" if durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        options = (f"-k {self.socket_dir} -p {self.port} -c listen_addresses='' {unsafe}"
                   "-c max_connections=300 -c shared_buffers=64MB")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def server_pids(self) -> list[int]:
        """The postmaster and every process it started (for /proc/<pid>/io accounting)."""
        main = int((self.data / "postmaster.pid").read_text().split()[0])
        pids = [main]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == main:
                        pids.append(int(entry.name))
                except (OSError, ValueError, IndexError):
                    continue
        return pids

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def _admin(self) -> object:
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname="postgres",
                               autocommit=True)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        with self._admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def new_database_name(self) -> str:
        return f"central_test_{os.getpid()}_{next(self._counter)}"
