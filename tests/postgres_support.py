"""A throwaway PostgreSQL cluster from Debian's binaries, for the ledger's tests on a database server.

Debian keeps initdb and pg_ctl in /usr/lib/postgresql/<version>/bin, off PATH. initdb refuses to run as root, so
as root the cluster runs as an unprivileged user (`postgres` when Debian's package made it, else `nobody`) in a
folder that user owns. It listens on 127.0.0.1 only, on a free port, and every login needs the generated password
(scram-sha-256, also over the Unix socket): no `trust` anywhere.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

from farm.postgres import free_port  # the product's own: the farm starts its cluster on a port found the same way

POSTGRES_BINARIES = Path("/usr/lib/postgresql")
MISSING = ("PostgreSQL's server binaries (initdb, pg_ctl) are not under /usr/lib/postgresql/*/bin: the ledger's "
           "PostgreSQL tests need them. Install Debian's package (as root: apt-get install postgresql), or run "
           "`make test`, which does.")


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl."""
    found = [d for d in POSTGRES_BINARIES.glob("*/bin") if (d / "initdb").exists() and (d / "pg_ctl").exists()]
    found.sort(key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)
    return found[-1] if found else None


@dataclass
class PostgresCluster:
    """A running cluster: `new_database()` gives each test its own empty database's URL."""

    bindir: Path
    folder: Path
    user: str | None  # the unprivileged OS user it runs as when the tests run as root
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    role: str = "docfilm"
    started_in: float = 0.0  # seconds spent in initdb and pg_ctl start
    _numbers: count[int] = field(default_factory=count)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        if done.returncode != 0:
            log = self.folder / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:1])} failed ({done.returncode}): {done.stderr[-2000:]}\n{tail}")
        return done

    def start(self) -> PostgresCluster:
        began = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        pwfile = self.folder / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            for path in (self.folder, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "--pgdata", str(self.data), "--username", self.role, "--pwfile", str(pwfile),
                  "--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C", "--no-sync")
        pwfile.unlink()
        for attempt in range(5):  # the free port may be taken between finding it and binding it
            self.port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='{self.folder}' "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            try:
                self._run("pg_ctl", "start", "--pgdata", str(self.data), "--wait", "--timeout", "60",
                          "--log", str(self.folder / "postgres.log"), "-o", options)
                break
            except RuntimeError:
                if attempt == 4:
                    raise
        self.started_in = time.monotonic() - began
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "--pgdata", str(self.data), "--mode", "fast", "--wait", timeout=60)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.role}:{self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self, template: str = "template1") -> str:
        """A fresh database copied from `template` (by default an empty one); its SQLAlchemy URL."""
        import psycopg

        name = f"ledger_{next(self._numbers)}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.role, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)


def start_cluster() -> PostgresCluster:
    """A cluster in a new private folder under the temp dir, run by an unprivileged user when we are root."""
    bindir = postgres_bin()
    if bindir is None:
        raise FileNotFoundError(MISSING)
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            user = "nobody"
    # Not under pytest's own temp folder: as root that one is private to root, and the cluster's user must enter.
    folder = Path(tempfile.mkdtemp(prefix="docfilm-postgres-"))
    return PostgresCluster(bindir=bindir, folder=folder, user=user).start()
