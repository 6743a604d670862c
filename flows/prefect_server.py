"""docfilm's own start of Prefect's ephemeral API server, early and in parallel with the command's work.

With no Prefect server configured, Prefect starts a temporary server per process the first time a flow
needs the API: its client imports the whole server package (about 2 s of CPU here), then waits for a
uvicorn subprocess to import it again and answer (4–5 s), all on the critical path. docfilm starts that
same server (Prefect's own `prefect.server.api.server:create_app`, as Prefect's ephemeral mode runs it)
as soon as a command knows it will run a flow, so the server boots while this process imports Prefect
and the flows, and the client never imports the server package.

It differs from Prefect's own in these ways:
- the listening socket is bound here (127.0.0.1, a free port) and handed to uvicorn (`--fd`), so the
  port is known at once and nothing else can take it in between;
- the API asks for a generated Basic auth string (kept in this process's environment, never logged),
  so other local users cannot read or drive the film's runs;
- a database Prefect's migrations already brought to their head (checked here from its `alembic_version` and
  the installed Prefect's migration files, without importing either) starts without running them again;
- the services no run of docfilm's uses (automations, event and log streaming) and the registration of block types
  (docfilm uses no blocks) are off (UNUSED_SERVER_WORK);
- it runs through flows/prefect_serve.py, which imports Prefect's server package with Python's cyclic collector
  paused (a seventh less of the server's start-up CPU here);
- `docfilm serve` keeps one for as long as it runs (ServedPrefect, recorded in PREFECT_HOME/served.json, mode
  0600), and the home's flow commands run meanwhile use it instead of starting their own (use_served_server);
- the server dies with this process, even on kill -9 (Linux parent-death signal); its own output goes to a log
  file under PREFECT_HOME (never onto the terminal, where a server shutting down under load may print an
  asyncio or SQLAlchemy traceback that is no failure of the command), quoted when the server fails to start.

Nothing here imports prefect.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import importlib.util
import json
import logging
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from core.errors import EnvironmentProblem

log = logging.getLogger(__name__)

# Settings which, when the user set them, mean Prefect is configured: leave it to Prefect then.
USER_PREFECT_SETTINGS = ("PREFECT_API_URL", "PREFECT_HOME", "PREFECT_PROFILES_PATH", "PREFECT_PROFILE")
STARTUP_TIMEOUT_S = 120.0  # the first start creates the database: 12–19 s here, more on a loaded machine
STOP_TIMEOUT_S = 10.0


# Services of Prefect's ephemeral server that nothing of this server's short life uses: automations (reactive and
# proactive triggers and their actions; docfilm defines none) and the websocket fan-out of events and logs (no
# subscriber can reach this server: it asks for the generated auth string). They cost about 0.2 s of CPU as the
# server comes up, while the flow run starts, and then handle every event of the run (about 1 s of CPU for a
# three-clip render here). What the Prefect UI shows of a run stays: the task run recorder and the event
# persister still write task runs, states and events into the database, and the API writes logs and artifacts.
# Nor does docfilm use blocks: registering Prefect's block types into a new PREFECT_HOME's database costs about
# 0.9 s of the server's CPU at its first start (the UI's Blocks page then shows no catalogue).
UNUSED_SERVER_WORK = {
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED": "false",
    "PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED": "false",
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
}


class PrefectServerFailed(EnvironmentProblem):
    """The local Prefect API server exited or did not answer in time (exit 3)."""


class PrefectApiUnreachable(EnvironmentProblem):
    """The Prefect API a user configured (PREFECT_API_URL) does not answer at all, or refuses the credentials
    it was given (exit 3)."""


def _parent_death_signal() -> Callable[[], None] | None:
    """A function for the child, before exec: SIGTERM when this process dies (Linux PR_SET_PDEATHSIG), so even
    a kill -9 leaves no server behind. Looked up here, in the parent, so the child only makes the one call."""
    if not sys.platform.startswith("linux"):
        return None  # elsewhere the atexit stop still applies
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, int(signal.SIGTERM))


def _log_tail(path: Path, lines: int = 15) -> str:
    """The end of the server's log, indented, for a failure message ("" when there is none)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return "".join(f"\n  {line}" for line in tail)


# Settings which, when the user set them, put Prefect's database somewhere else or decide about its migrations.
DATABASE_SETTINGS = ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL",
                     "PREFECT_API_DATABASE_MIGRATE_ON_START", "PREFECT_SERVER_DATABASE_MIGRATE_ON_START")


def _database_revision(db_path: Path) -> str | None:
    """The Alembic revision a Prefect SQLite database is at (None: no database, or not one of Prefect's)."""
    if not db_path.is_file():
        return None
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1.0) as db:
            rows = db.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def _migrations_folder() -> Path | None:
    """Where the installed Prefect keeps its SQLite migrations (found without importing prefect)."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "server" / "database" / "_migrations" / "versions" / "sqlite"


def database_at_head(db_path: Path) -> bool:
    """True when the database is at the installed Prefect's newest migration: a revision one of its migration
    files defines and no migration file follows (none names it as its `down_revision`). Any doubt says False,
    and the server then runs its migrations as usual (about 0.2 s when there is nothing to do; creating a new
    database takes some 10 s of CPU)."""
    revision = _database_revision(db_path)
    folder = _migrations_folder()
    if revision is None or folder is None or not re.fullmatch(r"[0-9a-f]{6,40}", revision):
        return False
    try:
        scripts = [p for p in folder.iterdir() if p.suffix == ".py"]
        if not any(f"_{revision}_" in p.name for p in scripts):
            return False
        follows = re.compile(rf"""^down_revision\s*=\s*.*["']{revision}["']""", re.MULTILINE)
        return not any(follows.search(p.read_text(encoding="utf-8", errors="replace")) for p in scripts)
    except OSError:
        return False


def api_request(url: str, auth: str) -> urllib.request.Request:
    """GET `url` of a Prefect API with Basic auth `auth` (USER:SECRET, Prefect's PREFECT_API_AUTH_STRING)."""
    token = base64.b64encode(auth.encode()).decode()
    return urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})


def health_request(api_url: str, auth: str) -> urllib.request.Request:
    """GET `api_url`/health with Basic auth `auth` (USER:SECRET), as docfilm's servers ask."""
    return api_request(f"{api_url}/health", auth)


class LocalPrefectServer:
    """Prefect's API on 127.0.0.1 for the lifetime of this process, with a generated auth string."""

    def __init__(self, prefect_home: Path) -> None:
        self.prefect_home = prefect_home
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = prefect_home / f"server.{os.getpid()}.log"
        self.api_url = ""
        self._auth = ""
        self._ready = False

    def start(self) -> None:
        """Bind the socket, start uvicorn on it and point this process's Prefect client at it. Returns at once."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        port = sock.getsockname()[1]
        self.api_url = f"http://127.0.0.1:{port}/api"
        self._auth = f"docfilm:{secrets.token_urlsafe(24)}"
        env = dict(os.environ)
        # Offline, the server's telemetry only fails ("database is locked", name resolution) into the log.
        env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        for name, value in UNUSED_SERVER_WORK.items():
            env.setdefault(name, value)  # a user who wants one of them back sets it
        env.update(
            PREFECT_HOME=str(self.prefect_home),
            PREFECT_UI_ENABLED="0",
            PREFECT__SERVER_EPHEMERAL="1",
            PREFECT__SERVER_FINAL="1",
            PREFECT_SERVER_API_AUTH_STRING=self._auth,
            PREFECT_API_URL=self.api_url,
            PREFECT_API_AUTH_STRING=self._auth,
        )
        if not any(name in os.environ for name in DATABASE_SETTINGS) and database_at_head(
            self.prefect_home / "prefect.db"
        ):
            env["PREFECT_API_DATABASE_MIGRATE_ON_START"] = "false"
        # uvicorn through flows.prefect_serve (the collector paused while Prefect's server is imported); -P: the
        # working directory's own folders (a `flows` or `prefect` there) are never imported instead.
        command = [sys.executable, "-P", "-m", "flows.prefect_serve", "--fd", str(sock.fileno()), "--factory",
                   "prefect.server.api.server:create_app", "--log-level", "error", "--lifespan", "on"]  # fmt: skip
        self.prefect_home.mkdir(parents=True, exist_ok=True)
        try:
            with self.log_path.open("wb") as server_log:
                self.process = subprocess.Popen(
                    command, env=env, pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL, stdout=server_log,
                    stderr=subprocess.STDOUT, preexec_fn=_parent_death_signal(),
                    # Its own session: a terminal's Ctrl-C reaches the command's process group only, so the
                    # server outlives it long enough to record the interrupted run, and is stopped at exit (or
                    # by the death signal). In the command's group it died first, and the run's last API calls
                    # then retried against nothing for minutes.
                    start_new_session=True,
                )
        finally:
            sock.close()  # the child holds its own copy; connections queue there until uvicorn accepts
        atexit.register(self.stop)
        os.environ["PREFECT_HOME"] = str(self.prefect_home)
        os.environ["PREFECT_API_URL"] = self.api_url
        os.environ["PREFECT_API_AUTH_STRING"] = self._auth
        log.debug("Prefect API server starting on %s (pid %s)", self.api_url, self.process.pid)

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Block until /api/health answers; PrefectServerFailed if the server exits or times out."""
        if self._ready:
            return
        assert self.process is not None, "start() first"
        request = health_request(self.api_url, self._auth)
        deadline = time.monotonic() + timeout
        while True:
            code = self.process.poll()
            if code is not None:
                raise PrefectServerFailed(f"the local Prefect server (uvicorn) exited with code {code} while starting "
                                          "(or set PREFECT_API_URL to use a running server); the end of "
                                          f"{self.log_path}:{_log_tail(self.log_path)}")  # fmt: skip
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise PrefectServerFailed(f"the local Prefect server did not answer within {timeout:.0f} s (a loaded "
                                          "machine? or set PREFECT_API_URL to use a running server)")
            try:
                # The socket is already listening, so this waits in the backlog until the app is up.
                with urllib.request.urlopen(request, timeout=min(remaining, 5.0)) as response:
                    if response.status == 200:
                        self._ready = True
                        return
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._ready:  # a server that never answered keeps its log: the error names it
            self.log_path.unlink(missing_ok=True)


# `docfilm serve` keeps one server for the commands run while it runs (ServedPrefect); this record, under the
# home's PREFECT_HOME, mode 0600 (it holds the auth string), tells them where it answers.
SERVED_RECORD = "served.json"


def _health(api_url: str, auth: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(health_request(api_url, auth), timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError):
        return False


def _is_served_process(pid: int) -> bool:
    """The pid runs this module's server (flows.prefect_serve), not some process that took a recycled pid."""
    try:
        return b"flows.prefect_serve" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def served_server(prefect_home: Path) -> tuple[str, str] | None:
    """(API URL, auth string) of the server a running `docfilm serve` keeps for this home, when it answers."""
    try:
        record = json.loads((prefect_home / SERVED_RECORD).read_text(encoding="utf-8"))
        pid, api_url, auth = int(record["pid"]), str(record["api_url"]), str(record["auth"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not api_url.startswith("http://127.0.0.1:") or not _is_served_process(pid) or not _health(api_url, auth, 2.0):
        return None
    return api_url, auth


class ServedPrefect:
    """`docfilm serve`'s companion (delivery.seaweed.Companion): Prefect's API for as long as serve runs, used
    by the home's flow commands instead of each starting a server of its own (3-4 s a command here)."""

    def __init__(self, prefect_home: Path) -> None:
        self.server = LocalPrefectServer(prefect_home)
        self.record = prefect_home / SERVED_RECORD
        self.server.start()  # boots while serve starts the S3

    def ready(self) -> str:
        self.server.wait_ready()
        assert self.server.process is not None
        from delivery.seaweed.state import write_private

        write_private(self.record, json.dumps({"pid": self.server.process.pid, "api_url": self.server.api_url,
                                               "auth": self.server._auth}))
        return f"Prefect API at {self.server.api_url} for the flow commands run meanwhile"

    def stop(self) -> None:
        process = self.server.process
        if process is not None:
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                if json.loads(self.record.read_text(encoding="utf-8"))["pid"] == process.pid:
                    self.record.unlink()
        self.server.stop()


_server: LocalPrefectServer | None = None
_served = False


def start_local_server(prefect_home: Path) -> LocalPrefectServer:
    """Start this process's server once (idempotent)."""
    global _server
    if _server is None:
        _server = LocalPrefectServer(prefect_home)
        _server.start()
    return _server


def local_server() -> LocalPrefectServer | None:
    return _server


def use_served_server(prefect_home: Path) -> bool:
    """Point this process's Prefect client at the server `docfilm serve` keeps for this home, if one answers."""
    global _served
    found = served_server(prefect_home)
    if found is None:
        return False
    api_url, auth = found
    os.environ["PREFECT_API_URL"] = api_url
    os.environ["PREFECT_API_AUTH_STRING"] = auth
    _served = True
    log.debug("flow runs go to docfilm serve's Prefect server on %s", api_url)
    return True


def own_server_in_use() -> bool:
    """This process runs its flows on docfilm's own server: its own (local_server) or `docfilm serve`'s."""
    return _server is not None or _served
