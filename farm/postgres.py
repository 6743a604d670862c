"""The farm's own PostgreSQL cluster, from Debian's server binaries, on 127.0.0.1 with a generated password.

Debian keeps initdb and pg_ctl in /usr/lib/postgresql/<version>/bin, off PATH, and initdb refuses to run as root:
as root the cluster runs as an unprivileged user (`postgres` when Debian's package made it, else `nobody`) whose
data directory, under DOCFILM_HOME/farm, it owns. Logins need the password (scram-sha-256); there is no Unix
socket. The cluster and its password are kept, so a second `farm local` finds the same ledger.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import FarmPartFailed, PostgresMissing

POSTGRES_BINARIES = Path("/usr/lib/postgresql")
ROLE = "docfilm"


def postgres_bin() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl; PostgresMissing if none."""
    found = [d for d in POSTGRES_BINARIES.glob("*/bin") if (d / "initdb").exists() and (d / "pg_ctl").exists()]
    found.sort(key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)
    if not found:
        raise PostgresMissing("PostgreSQL's server binaries (initdb, pg_ctl) are not under /usr/lib/postgresql/*/bin: "
                              "install Debian's package (as root: apt-get install postgresql)")
    return found[-1]


def unprivileged_user() -> str | None:
    """The user the cluster runs as when we are root (None: as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise FarmPartFailed("running as root, but there is neither a `postgres` nor a `nobody` user to run PostgreSQL as")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    """One cluster in `folder` (data/, postgres.log, credentials.json): initialised once, started and stopped."""

    folder: Path
    bindir: Path
    user: str | None
    port: int = 0
    password: str = ""

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log_path(self) -> Path:
        return self.folder / "postgres.log"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        if done.returncode != 0:
            tail = self.log_path.read_text(errors="replace")[-1500:] if self.log_path.exists() else ""
            raise FarmPartFailed(f"PostgreSQL: {args[0]} failed ({done.returncode}): {done.stderr.strip()[-1500:]}"
                                 + (f"\n{tail}" if tail else ""))
        return done

    def _chown(self, *paths: Path) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            for path in paths:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _check_reachable(self) -> None:
        """As root, the cluster's user must be able to enter every folder above its own."""
        if self.user is None:
            return
        entry = pwd.getpwnam(self.user)
        for parent in reversed(self.folder.parents):
            mode = parent.stat().st_mode
            if parent.stat().st_uid != entry.pw_uid and not mode & 0o001:
                raise FarmPartFailed(f"PostgreSQL runs as the user {self.user}, who cannot enter {parent} (mode "
                                     f"{mode & 0o777:o}): put DOCFILM_HOME where {self.user} may pass (chmod o+x)")

    def initialise(self) -> None:
        """initdb once; the password is generated then and kept, mode 0600, beside the data."""
        credentials = self.folder / "credentials.json"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._check_reachable()
        if (self.data / "PG_VERSION").exists() and credentials.exists():
            self.password = json.loads(credentials.read_text())["password"]
            return
        self.password = secrets.token_urlsafe(24)
        pwfile = self.folder / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        self._chown(self.folder, pwfile)
        try:
            self._run("initdb", "--pgdata", str(self.data), "--username", ROLE, "--pwfile", str(pwfile),
                      "--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C")
        finally:
            pwfile.unlink(missing_ok=True)
        fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"role": ROLE, "password": self.password}, f)

    def start(self) -> None:
        for attempt in range(5):  # the free port may be taken between finding and binding it
            self.port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' "
                       "-c max_connections=300")
            try:
                self._run("pg_ctl", "start", "--pgdata", str(self.data), "--wait", "--timeout", "60",
                          "--log", str(self.log_path), "-o", options)
                return
            except FarmPartFailed:
                if attempt == 4:
                    raise

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "--pgdata", str(self.data), "--mode", "fast", "--wait", "--timeout", "30",
                      timeout=45)

    def url(self, database: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def ensure_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=ROLE, password=self.password, dbname="postgres",
                             autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')


def cluster_in(folder: Path) -> PostgresCluster:
    return PostgresCluster(folder=folder, bindir=postgres_bin(), user=unprivileged_user())
