"""`docfilm farm local`: the whole farm on one machine, to try it and to test it.

It starts, in order, PostgreSQL (the ledger and Prefect's database), a Prefect server on it, the embedded S3, the
schema, the work pool and deployments, and N process workers, each with its own scratch DOCFILM_HOME: they share
only the database and S3, as machines of a real farm would. Everything listens on 127.0.0.1 with generated
credentials; its state lives under DOCFILM_HOME/farm. `stop()` ends them in the reverse order.

Prefect is driven through its command line in child processes: nothing here imports prefect.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FarmPartFailed
from .postgres import PostgresCluster, cluster_in, free_port
from .settings import FarmSettings, host_limit_name

log = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parent.parent  # where prefect.yaml and flows/ are
SERVER_START_S = 120.0
STOP_WORKER_S = 10.0


@dataclass
class FarmEnvironment:
    """What a machine needs to use the farm: the `export` lines of the env file."""

    values: dict[str, str]

    def lines(self) -> str:
        import shlex

        return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self.values.items())

    def write(self, path: Path) -> None:
        """Mode 0600 from the first byte: it holds passwords."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.lines())
        path.chmod(0o600)


@dataclass
class LocalFarm:
    """The parts of one `farm local` and the order they are stopped in."""

    home: Path
    workers: int
    settings: FarmSettings
    say: Callable[[str], None] = print
    postgres: PostgresCluster | None = None
    server: subprocess.Popen[bytes] | None = None
    s3: object | None = None
    worker_processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: FarmEnvironment | None = None
    api_url: str = ""
    auth: str = ""

    @property
    def folder(self) -> Path:
        return self.home / "farm"

    def prefect_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DOCFILM_", "AWS_"))}
        env.update(PREFECT_API_URL=self.api_url, PREFECT_API_AUTH_STRING=self.auth,
                   PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
                   PREFECT_HOME=str(self.folder / "prefect"))
        if "PYTHONPYCACHEPREFIX" not in env and not _bytecode_beside_sources():
            # Every flow run is a new Python process: without a bytecode cache each one compiles Prefect from
            # source again (~3 s here), where PYTHONDONTWRITEBYTECODE is set. The environment's own cache (which
            # scripts/bootstrap.sh compiles) is used where it is there: a new prefix would compile it all again.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.folder / "pycache")
        return env

    # ------------------------------------------------------------------------------------------- start
    def start(self) -> FarmEnvironment:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.say("PostgreSQL …")
        self.postgres = cluster_in(self.folder / "postgres")
        self.postgres.initialise()
        self.postgres.start()
        self.postgres.ensure_database("docfilm")
        self.postgres.ensure_database("prefect")
        self.say(f"PostgreSQL on 127.0.0.1:{self.postgres.port} (data in {self.postgres.data})")
        self._start_server()
        self.say(f"Prefect server on {self.api_url}")
        s3_env = self._start_s3()
        self.say(f"S3 on {s3_env['DOCFILM_S3_ENDPOINT_URL']}, bucket {s3_env['DOCFILM_S3_BUCKET']}")
        ledger_url = self.postgres.url("docfilm")
        self._upgrade_ledger(ledger_url)
        values = {"PREFECT_API_URL": self.api_url, "PREFECT_API_AUTH_STRING": self.auth,
                  "DOCFILM_DATABASE_URL": ledger_url, **s3_env, "DOCFILM_LIBRARY_S3": "on",
                  "DOCFILM_PREFECT_HEARTBEATS": "off"}
        self.env = FarmEnvironment(values)
        self._deploy()
        self.say(f"work pool {self.settings.pool} and deployment {self.settings.deployment}")
        for n in range(1, self.workers + 1):
            self._start_worker(f"farm-{n}")
        self.say(f"{self.workers} worker(s): {', '.join(self.worker_processes)}")
        self._write_state()
        return self.env

    def _start_server(self) -> None:
        assert self.postgres is not None
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}/api"
        self.auth = f"docfilm:{secrets.token_urlsafe(24)}"
        env = self.prefect_env() | {
            "PREFECT_API_DATABASE_CONNECTION_URL": self.postgres.url("prefect", driver="asyncpg"),
            "PREFECT_SERVER_API_AUTH_STRING": self.auth, "PREFECT_UI_ENABLED": "false",
        }
        from flows.prefect_server import UNUSED_SERVER_WORK

        # No automations (nor event and log streaming): the farm finds lost work by its leases, not by Prefect's
        # flow-run heartbeats, which its runs then need not send (DOCFILM_PREFECT_HEARTBEATS=off below).
        for name, value in UNUSED_SERVER_WORK.items():
            env.setdefault(name, value)
        (self.folder / "prefect").mkdir(parents=True, exist_ok=True)
        log_path = self.folder / "prefect-server.log"
        with log_path.open("wb") as server_log:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
                 "--no-ui", "--analytics-off"],
                env=env, stdin=subprocess.DEVNULL, stdout=server_log, stderr=subprocess.STDOUT,
                preexec_fn=_own_group_ending_with_us(),
            )
        from flows.prefect_server import health_request

        request = health_request(self.api_url, self.auth)
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if self.server.poll() is not None:
                raise FarmPartFailed(f"the Prefect server exited with code {self.server.returncode}; the end of "
                                     f"{log_path}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise FarmPartFailed(f"the Prefect server did not answer within {SERVER_START_S:.0f} s; see {log_path}")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                time.sleep(0.2)

    def _start_s3(self) -> dict[str, str]:
        from delivery.client import ensure_bucket, s3_client
        from delivery.seaweed import EmbeddedS3

        server = EmbeddedS3(self.folder, stop_timeout=10.0)
        server.start()
        self.s3 = server
        assert server.endpoint_url is not None
        bucket = "docfilm"
        client = s3_client(server.endpoint_url, server.access_key, server.secret_key, "us-east-1")
        try:
            ensure_bucket(client, bucket, "us-east-1")
        finally:
            client.close()
        return {"DOCFILM_S3_ENDPOINT_URL": server.endpoint_url, "DOCFILM_S3_BUCKET": bucket,
                "AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key}

    @staticmethod
    def _upgrade_ledger(url: str) -> None:
        from assets_manifest.ledger import Ledger
        from assets_manifest.settings import LedgerSettings

        Ledger.upgrade(LedgerSettings(database_url=url))

    def _prefect(self, *args: str, timeout: float = 180) -> None:
        done = subprocess.run([sys.executable, "-m", "prefect", *args], env=self.prefect_env(), cwd=PROJECT,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise FarmPartFailed(f"`prefect {' '.join(args)}` failed ({done.returncode}): "
                                 f"{(done.stdout + done.stderr).strip()[-1500:]}")

    def _deploy(self) -> None:
        pool = self.settings.pool
        self._prefect("work-pool", "create", "--type", "process", "--overwrite", pool)
        # The engine command given, the process worker starts each flow run as that one process. Without it, Prefect
        # 3.9 starts a workspace supervisor first (a second Python process importing Prefect: ~2.3 s of CPU a flow
        # run here) and writes the run's whole environment, secrets included, into a temporary folder. The command
        # is Prefect's engine behind flows.farm_engine (its imports with the garbage collector paused).
        self._prefect("--no-prompt", "deploy", "--name", self.settings.deployment.split("/")[-1], "--pool", pool,
                      "--job-variable", f"command={shlex.join([sys.executable, '-m', 'flows.farm_engine'])}")
        if self.settings.host_limit:
            self._prefect("global-concurrency-limit", "create", host_limit_name(), "--limit",
                          str(self.settings.host_limit))

    def _start_worker(self, name: str) -> None:
        assert self.env is not None
        home = self.folder / "workers" / name
        home.mkdir(parents=True, exist_ok=True)
        scratch = home / "tmp"
        shutil.rmtree(scratch, ignore_errors=True)  # a farm killed before its stop left it
        scratch.mkdir(mode=0o700)
        env = self.prefect_env() | self.env.values | {
            "DOCFILM_HOME": str(home), "DOCFILM_FARM_WORKER": name, "PREFECT_HOME": str(home / "prefect"),
            # Each flow run's working folder is a temporary folder the process worker removes only when the run
            # ends normally: a worker killed mid-run would leave it in the system's /tmp. Here it stays in the
            # worker's scratch folder, which stop() removes.
            "TMPDIR": str(scratch),
            # Pick up submitted flow runs within a second (Prefect's default polls every 10 s).
            "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1",
        }
        for key in ("DOCFILM_FARM_LEASE_SECONDS", "DOCFILM_FFMPEG", "DOCFILM_FILM"):
            if key in os.environ:
                env[key] = os.environ[key]
        with (home / "worker.log").open("ab") as worker_log:
            self.worker_processes[name] = subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", self.settings.pool, "--name", name,
                 "--type", "process", "--limit", "1"],
                env=env, cwd=PROJECT, stdin=subprocess.DEVNULL, stdout=worker_log, stderr=subprocess.STDOUT,
                preexec_fn=_own_group_ending_with_us(),  # stopping its group takes its flow runs along
            )

    def _write_state(self) -> None:
        """Who runs where (pids, ports), for people and tests; no secret in it."""
        assert self.postgres is not None and self.server is not None
        state = {"pid": os.getpid(), "api_url": self.api_url, "postgres_port": self.postgres.port,
                 "server_pid": self.server.pid,
                 "workers": {name: p.pid for name, p in self.worker_processes.items()}}
        (self.folder / "farm.json").write_text(json.dumps(state, indent=2) + "\n")

    # -------------------------------------------------------------------------------------------- stop
    def stop(self) -> None:
        """Workers (and their flow runs), the Prefect server, S3, PostgreSQL: each given its time, then killed."""
        _stop_groups(list(self.worker_processes.values()), STOP_WORKER_S, "workers")  # all at once: ≤ 10 s
        self.worker_processes.clear()
        for scratch in (self.folder / "workers").glob("*/tmp"):  # their temporary files (see _start_worker),
            shutil.rmtree(scratch, ignore_errors=True)  # those of a worker that died before too
        if self.server is not None:
            _stop_groups([self.server], 10.0, "the Prefect server")
            self.server = None
        if self.s3 is not None:
            self.s3.stop()  # type: ignore[attr-defined]
            self.s3 = None
        if self.postgres is not None:
            try:
                self.postgres.stop()
            except FarmPartFailed as exc:
                log.warning("%s", exc)
            self.postgres = None
        (self.folder / "farm.json").unlink(missing_ok=True)


def _bytecode_beside_sources() -> bool:
    """Prefect's modules have compiled bytecode in their own __pycache__ (a Python process started with the
    environment as it is reads it, and compiles nothing)."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    if spec is None or spec.origin is None:
        return False
    package = Path(spec.origin).parent
    return all(Path(importlib.util.cache_from_source(str(package / name))).is_file()
               for name in ("__init__.py", "flows.py", "engine.py", "workers/process.py"))


def _own_group_ending_with_us() -> Callable[[], None]:
    """For a child, before exec: its own process group (Ctrl-C reaches only `farm local`, which stops it in
    order), and SIGTERM when `farm local` dies, even by SIGKILL (Linux parent-death signal)."""
    from flows.prefect_server import _parent_death_signal

    on_parent_death = _parent_death_signal()

    def prepare() -> None:
        os.setsid()
        if on_parent_death is not None:
            on_parent_death()

    return prepare


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc), children first found first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _stop_groups(processes: list[subprocess.Popen[bytes]], timeout: float, what: str) -> None:
    """SIGTERM to each process group, SIGKILL to what is left of them and of their descendants after `timeout`.

    Descendants are looked up first: a flow run in a session of its own would outlive its worker otherwise."""
    below = [pid for p in processes for pid in descendants(p.pid)]
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    _signal(below, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s: killed", what, timeout)
    for process in processes:
        with contextlib.suppress(ProcessLookupError):  # flow runs left behind, whatever state they are in
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    _signal(below, signal.SIGKILL)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
