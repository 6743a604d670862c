"""Shared fixtures: `embedded_s3`, one real SeaweedFS for the whole session (started once, ~1 s); `prefect_for_tests`,
one Prefect API server for the session and its migrated database to copy; `user_env`, a user's environment for the
installed `docfilm`."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cli_support import DOCFILM, ROOT, CliPipeline, PrefectForTests, docfilm_cli, make_clip, stop_process
from postgres_support import PostgresCluster, start_cluster

from flows.prefect_server import UNUSED_SERVER_WORK

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from delivery.seaweed import EmbeddedS3


@dataclass
class EmbeddedS3Fixture:
    """A running embedded S3 with a ready client and an existing bucket."""

    endpoint_url: str
    access_key: str
    secret_key: str = field(repr=False)
    bucket: str
    client: S3Client
    server: EmbeddedS3
    home: Path


@pytest.fixture(scope="session")
def embedded_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedS3Fixture]:
    """A real `weed mini` under a session temp home, bucket "docfilm-test"; stopped after the session."""
    # Imported here so that test modules not using S3 do not pay for boto3.
    from delivery.client import ensure_bucket, s3_client
    from delivery.seaweed import EmbeddedS3

    home = tmp_path_factory.mktemp("s3home")
    # Throwaway data: at the session's end a server that ignores SIGTERM is killed after 2 s, not the 10 s grace a
    # user's library gets (a loaded run saw 11-16 s teardowns on the last test of a worker).
    with EmbeddedS3(home, stop_timeout=2.0) as server:
        assert server.endpoint_url is not None
        client = s3_client(server.endpoint_url, server.access_key, server.secret_key)
        bucket = "docfilm-test"
        ensure_bucket(client, bucket, "us-east-1")
        try:
            yield EmbeddedS3Fixture(
                endpoint_url=server.endpoint_url,
                access_key=server.access_key,
                secret_key=server.secret_key,
                bucket=bucket,
                client=client,
                server=server,
                home=home,
            )
        finally:
            client.close()


# --- review: real Chromium and tiny review media (appended by the review helper) ---------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# The longest files, longest first (per-file sums of `pytest --durations=0`, setup included): with
# `--no-loadscope-reorder` (pyproject's addopts) pytest-xdist's loadfile hands out files in collection order, so
# the long ones start first and the short ones fill the workers' ends. Without that option xdist reorders files
# by their number of tests, and a long file of one test (the farm's, PostgreSQL's pipeline) starts last while
# the other worker sits idle.
LONGEST_FILES = (
    "test_farm_local.py", "test_cli_commands.py", "test_cli_failures.py", "test_editorial_conform.py",
    "test_flows_prefect_server.py", "test_flows_cli.py", "test_flows_postgres.py", "test_assets_manifest_failures.py",
    "test_assets_manifest_concurrency.py", "test_flows_cut.py", "test_cli.py", "test_editorial_assemble.py",
    "test_delivery_multipart.py", "test_assets_manifest_schema.py", "test_flows_render.py", "test_figures_tables.py",
    "test_delivery_s3.py", "test_flows_pipeline.py", "test_assets_manifest_mhl.py", "test_flows_masters.py",
    "test_figures_check.py",
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two test processes per core. Much of a test's time is spent waiting (a server's start, an ffmpeg
    or a `docfilm` subprocess, Chromium); on 2 cores four workers ran the suite in 173-183 s where two took
    215-230 s, and six were slower again (189 s: the cores are then the limit)."""
    return 2 * len(os.sched_getaffinity(0))


# Files that share an expensive session fixture run on one xdist worker, as one unit of work: session fixtures
# are per worker, so on two workers `cli_pipeline` (a `docfilm serve` and a whole `docfilm run`) was built twice.
SAME_WORKER = {"test_cli_failures.py": "test_cli_commands.py"}


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`--dist loadfile`, with the files of SAME_WORKER handed out together (in the first one's place)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedFixtureScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            folder, _, name = file.rpartition("/")
            return f"{folder}/{SAME_WORKER[name]}" if name in SAME_WORKER else file

    return SharedFixtureScheduling(config, log)  # type: ignore[arg-type]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the longest files first and browser tests last.

    The session's sync Playwright keeps an event loop running in the main thread, so asyncio.run() in any
    later test would fail with "cannot be called from a running event loop".
    """

    def order(item: pytest.Item) -> tuple[bool, int]:
        name = item.path.name
        rank = LONGEST_FILES.index(name) if name in LONGEST_FILES else len(LONGEST_FILES)
        return item.get_closest_marker("browser") is not None, rank

    items.sort(key=order)


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[object]:
    """One headless Debian Chromium (playwright.sync_api.Browser) per test module; skips if not installed.

    Per module, not per session: Playwright's sync API keeps an event loop running while it is open, and Prefect
    then takes any later caller in that test process (pytest-xdist runs several modules in one) for async code.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def review_media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 1 s 320x180 H.264 + AAC faststart MP4 (GOP 5, to seek) and a JPEG poster, made with real ffmpeg."""
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    folder = tmp_path_factory.mktemp("review_media")
    proxy, poster = folder / "proxy.mp4", folder / "poster.jpg"
    quiet = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    subprocess.run(
        [*quiet, "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=1",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "5",
         "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart", str(proxy)],
        check=True, capture_output=True, timeout=60,
    )
    subprocess.run(
        [*quiet, "-f", "lavfi", "-i", "testsrc=size=320x180:rate=1", "-frames:v", "1", str(poster)],
        check=True, capture_output=True, timeout=60,
    )
    return proxy, poster


# --- the installed `docfilm` as a user runs it, and one Prefect server for the session (tests helper) ------------

def _run_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This pytest run's own temp folder, shared by its xdist workers (each worker's basetemp is a child of it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start_test_server(home: Path, *, migrated: bool) -> tuple[subprocess.Popen[bytes], str]:
    """Prefect's API app under uvicorn on a loopback socket bound here (--fd: the port is known at once and
    cannot be taken), answering /health; its database PREFECT_HOME/prefect.db (migrated: no migrations run)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    api_url = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {
        "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1",
    } | UNUSED_SERVER_WORK  # fmt: skip  # as docfilm runs its own server
    if migrated:
        env["PREFECT_API_DATABASE_MIGRATE_ON_START"] = "false"
    log_path = home / "server.log"
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--fd", str(sock.fileno()), "--factory",
             "prefect.server.api.server:create_app", "--log-level", "error", "--lifespan", "on"],
            env=env, pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    sock.close()
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, f"the test Prefect server exited: {log_path.read_text(errors='replace')}"
            assert time.monotonic() < deadline, "the test Prefect server did not answer within 180 s"
            try:
                with urllib.request.urlopen(f"{api_url}/health", timeout=5) as response:
                    if response.status == 200:
                        return server, api_url
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                time.sleep(0.1)
    except BaseException:
        _stop_test_server(server)
        raise


def _stop_test_server(server: subprocess.Popen[bytes]) -> None:
    stop_process(server, signal.SIGTERM, 15)


@pytest.fixture(scope="session")
def prefect_for_tests(tmp_path_factory: pytest.TempPathFactory) -> PrefectForTests:
    """One Prefect API server (Prefect's own app, as its test harness runs it) on 127.0.0.1 for the pytest run.

    The first test process to need it starts it in the run's shared temp folder and leaves its address there;
    the other xdist workers use the same server (a second one cost a start and its background services' CPU
    all run long). It is stopped when the run ends (pytest_unconfigure of the main process). Its database,
    migrated once (some 10 s of CPU), is also copied for tests that need docfilm to start its own server
    (`seed`). Telemetry off; the runner's PREFECT_* settings are not passed on.
    """
    shared = _run_tmp(tmp_path_factory)
    migrated, address = shared / "prefect-migrated.db", shared / "prefect-server.json"
    with _file_lock(shared / "prefect-migrated.lock"):
        if address.exists():
            api_url = json.loads(address.read_text())["api_url"]
        else:
            home = shared / "prefect-server"
            home.mkdir(exist_ok=True)
            server, api_url = _start_test_server(home, migrated=False)
            address.write_text(json.dumps({"api_url": api_url, "pid": server.pid}))
            # The backup API copies a consistent database even while the server holds it open.
            partial = migrated.with_suffix(".partial")
            source, target = sqlite3.connect(home / "prefect.db"), sqlite3.connect(partial)
            try:
                source.backup(target)
            finally:
                source.close()
                target.close()
            partial.replace(migrated)
    return PrefectForTests(api_url=api_url, migrated_db=migrated)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The main process stops the run's Prefect server, if a test process started one."""
    factory = getattr(config, "_tmp_path_factory", None)
    if os.environ.get("PYTEST_XDIST_WORKER") or factory is None or factory._basetemp is None:
        return
    address = factory.getbasetemp() / "prefect-server.json"
    if not address.exists():
        return
    pid = int(json.loads(address.read_text())["pid"])
    address.unlink()
    _stop_pid(pid)


def _stop_pid(pid: int) -> None:
    """SIGTERM, then SIGKILL after 15 s; reaped if it is our child, else waited for until it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:  # not our child (a worker started it): gone once /proc says so
            stat = Path(f"/proc/{pid}/stat")
            if not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z":
                return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


OUTER_PREFECT_HOME = os.environ.get("PREFECT_HOME")


@pytest.fixture(scope="module")
def prefect_harness(prefect_for_tests: PrefectForTests) -> Iterator[None]:
    """The flows of a test module run in this process against the session's Prefect server (migrated once).

    prepare_prefect_env writes Prefect's settings into os.environ; they are undone after the module, so no
    PREFECT_* setting leaks into the tests that follow (or into the commands they start).
    """
    from flows.env import prepare_prefect_env

    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("PREFECT_")]:
            env.delenv(name)
        # A configured API: prepare_prefect_env then leaves PREFECT_HOME alone, as it does for a user's server.
        env.setenv("PREFECT_API_URL", prefect_for_tests.api_url)
        prepare_prefect_env()
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: prefect_for_tests.api_url}):
            yield
    assert os.environ.get("PREFECT_HOME") == OUTER_PREFECT_HOME, "PREFECT_HOME leaked out of the module"


@pytest.fixture(scope="session")
def cli_pipeline(tmp_path_factory: pytest.TempPathFactory, prefect_for_tests: PrefectForTests) -> Iterator[CliPipeline]:
    """One `docfilm run` of two 1 s clips on the embedded defaults (SeaweedFS, SQLite), shared by the CLI tests
    that need footage already rendered; they only add to it.

    As the README suggests for several commands in a row, one `docfilm serve` keeps the embedded S3 up for all
    of them (each command would otherwise start and stop SeaweedFS: about 2 s a time).
    """
    root = tmp_path_factory.mktemp("cli")
    home, card = root / "home", root / "card"
    make_clip(card / "S01" / "S01-01_phỏng-vấn.mp4", "10:00:00:00")
    make_clip(card / "S02-01_cảnh-quay.mp4", "11:00:00:00")
    env = prefect_for_tests.env(home)
    log = root / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen([str(DOCFILM), "serve"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C" not in log.read_text(errors="replace"):  # its ready line
            assert serve.poll() is None, f"docfilm serve exited: {log.read_text(errors='replace')}"
            assert time.monotonic() < deadline, f"docfilm serve not ready in 60 s: {log.read_text(errors='replace')}"
            time.sleep(0.05)
        run = docfilm_cli("run", "--json", "--as-of", "2019-05-20", str(card), env=env)
        yield CliPipeline(home=home, card=card, env=env, run=run)
    finally:
        stop_process(serve, signal.SIGINT, 120)
        from delivery.seaweed import EmbeddedS3 as Embedded

        Embedded.stop_recorded(home, stop_timeout=2.0)  # a serve killed above leaves its weed: never leak it


# --- the ledger on SQLite and on PostgreSQL (ledgerdb helper) -----------------------------------------------------

@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster per test process (each xdist worker its own), stopped at the end.

    Missing binaries fail the tests that need it, with how to install them: CI must run them, not skip them.
    """
    try:
        cluster = start_cluster()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def upgraded_ledger_template(postgres_cluster: PostgresCluster) -> str:
    """A database brought to the newest schema once by `Ledger.upgrade`, which each test's database copies."""
    from assets_manifest.ledger import Ledger
    from assets_manifest.settings import LedgerSettings

    url = postgres_cluster.new_database()
    Ledger.upgrade(LedgerSettings(database_url=url))  # disposes its engine: a template must have no connection
    return url.rsplit("/", 1)[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """The ledger's DOCFILM_DATABASE_URL: None (the embedded SQLite under the test's home), or a new PostgreSQL
    database already upgraded, as `docfilm db upgrade` leaves a server."""
    if request.param == "sqlite":
        return None
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.new_database(template=request.getfixturevalue("upgraded_ledger_template"))
