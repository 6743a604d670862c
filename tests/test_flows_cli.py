"""The CLI's one map from failures to exit codes, its quiet console, and `show --json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cli_support import PrefectForTests, docfilm_in_process, user_env
from qc_support import StoredQc

ROOT = Path(__file__).resolve().parent.parent
DOCFILM = Path(sys.executable).parent / "docfilm"

# The real CLI (flows.cli.main) with two extra commands: a real Prefect flow run whose task raises a known
# failure (a subclass of EnvironmentProblem, as any package's would be), and a plain bug.
SCRIPT = """
import sys
from flows.cli import application as cli
from core.errors import EnvironmentProblem


class DeckOffline(EnvironmentProblem):
    pass


@cli.app.command("deck")
def deck() -> None:
    with cli._flows():
        from prefect import flow, task

        @task
        def warm_up() -> int:
            return 1

        @task
        def read_deck() -> None:
            raise DeckOffline("the deck at 10.0.0.9:9000 is offline (switch it on)")

        @flow(name="read-deck")
        def read() -> None:
            warm_up()
            read_deck()

        @flow(name="ingest-deck")
        def outer() -> None:
            read()

        outer()


@cli.app.command("bug")
def bug() -> None:
    raise RuntimeError("a bug, not a known failure")


cli.main()
"""


def run_cli(*args: str, home: Path, script: bool = False, **env: str) -> subprocess.CompletedProcess[str]:
    """docfilm (or the script above) with no Prefect configured, so it runs its own server in `home`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DOCFILM_"))}
    clean |= {"DOCFILM_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"} | env
    command = [sys.executable, "-c", SCRIPT, *args] if script else [str(DOCFILM), *args]
    return subprocess.run(command, capture_output=True, text=True, env=clean, cwd=ROOT, timeout=300)


def _prefect_api(api_url: str, path: str, body: dict[str, Any]) -> Any:
    """POST a query to a Prefect API (the test server asks for no auth), as its UI reads runs and logs."""
    request = urllib.request.Request(f"{api_url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_known_failure_in_a_flow_run_is_one_line_on_the_terminal_and_a_traceback_in_prefect(
    tmp_path: Path, prefect_for_tests: PrefectForTests
) -> None:
    home = tmp_path / "home"
    # On the session's server (a configured PREFECT_API_URL, as a user's): what reaches the terminal is the same
    # as on docfilm's own server, and the API keeps the run's log lines for the UI either way.
    p = run_cli("deck", home=home, script=True, PREFECT_API_URL=prefect_for_tests.api_url)
    assert p.returncode == 3, p.stderr[-3000:]
    assert p.stdout == ""
    assert "Traceback" not in p.stderr
    lines = p.stderr.splitlines()
    assert lines[-1] == "docfilm: the deck at 10.0.0.9:9000 is offline (switch it on)"
    # Prefect's own account of the failure: one line for the task, none again for the two flows it failed.
    assert len([ln for ln in lines if "DeckOffline" in ln]) == 1, p.stderr
    # Quiet by default: none of Prefect's run lines.
    assert not any(word in p.stderr for word in ("Beginning flow run", "Finished in state", "View at")), p.stderr
    # The Prefect API (and its UI) keeps every line, the tracebacks included.
    runs = _prefect_api(prefect_for_tests.api_url, "/flow_runs/filter",
                        {"flows": {"name": {"any_": ["ingest-deck", "read-deck"]}}})
    assert len(runs) == 2 and {r["state_type"] for r in runs} == {"FAILED"}, runs
    logs = _prefect_api(prefect_for_tests.api_url, "/logs/filter",
                        {"logs": {"flow_run_id": {"any_": [r["id"] for r in runs]}}, "limit": 200})
    messages = [log["message"] for log in logs]
    assert any("Finished in state Completed()" in m for m in messages)
    failures = [m for m in messages if "DeckOffline" in m and "Traceback" in m]
    assert len(failures) >= 3, messages  # the task, and each of the two flows it ended

    debug = run_cli("--debug", "deck", home=home, script=True, PREFECT_API_URL=prefect_for_tests.api_url)
    assert debug.returncode == 3
    assert "Traceback" in debug.stderr and "DeckOffline: the deck at 10.0.0.9:9000" in debug.stderr
    assert debug.stderr.splitlines()[-1].startswith("docfilm: the deck at 10.0.0.9:9000")


def test_an_unknown_exception_is_a_bug_and_keeps_its_traceback(tmp_path: Path) -> None:
    p = run_cli("bug", home=tmp_path / "home", script=True)
    assert p.returncode == 1
    assert "Traceback" in p.stderr and "RuntimeError: a bug, not a known failure" in p.stderr
    assert "docfilm:" not in p.stderr


def test_a_bad_setting_exits_2_naming_the_variable_and_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    p = run_cli("status", "--json", home=home, DOCFILM_S3_PART_SIZE_MIB="3", DOCFILM_PACKET_HOSTED="perhaps",
                DOCFILM_DATABASE_URL="postgresql+psycopg://film:hunter2@db.example:5432/ledger",
                DOCFILM_S3_ENDPOINT_URL="localhost:9000", DOCFILM_S3_BUCKET="Phim_2019")
    assert p.returncode == 2, p.stderr
    assert p.stdout == ""
    assert "Traceback" not in p.stderr
    assert "DOCFILM_S3_PART_SIZE_MIB='3'" in p.stderr and "greater than or equal to 5" in p.stderr
    assert "DOCFILM_PACKET_HOSTED='perhaps'" in p.stderr
    # Met before any request is made (botocore's ValueError, the server's InvalidBucketName, were tracebacks).
    assert "DOCFILM_S3_ENDPOINT_URL: expected an http:// or https:// URL" in p.stderr
    assert "DOCFILM_S3_BUCKET='Phim_2019': not a bucket name S3 accepts" in p.stderr
    assert "DOCFILM_DATABASE_URL" not in p.stderr, "a PostgreSQL URL is a valid setting"
    assert len(p.stderr.strip().splitlines()) == 1
    assert not home.exists()

    debug = run_cli("--debug", "status", home=home, DOCFILM_S3_PART_SIZE_MIB="3")
    assert debug.returncode == 2 and "Traceback" in debug.stderr and "SettingsInvalid" in debug.stderr
    env_debug = run_cli("status", home=home, DOCFILM_S3_PART_SIZE_MIB="3", DOCFILM_DEBUG="1")
    assert env_debug.returncode == 2 and "Traceback" in env_debug.stderr


@pytest.mark.parametrize("url", ["mysql://film:hunter2@db.example/ledger", "db.example:5432/ledger"])
def test_a_ledger_url_docfilm_cannot_use_is_a_bad_setting_without_its_password(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.settings import DocfilmSettings, SettingsInvalid

    monkeypatch.setenv("DOCFILM_DATABASE_URL", url)
    with pytest.raises(SettingsInvalid, match="DOCFILM_DATABASE_URL: docfilm's ledger runs on SQLite") as caught:
        DocfilmSettings.load()
    assert "hunter2" not in str(caught.value)


def test_a_postgresql_url_without_a_driver_is_taken_as_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.settings import DocfilmSettings

    for url in ("postgresql://film@db.example:5432/ledger", "postgres://film@db.example:5432/ledger"):
        monkeypatch.setenv("DOCFILM_DATABASE_URL", url)
        assert DocfilmSettings.load().ledger.url() == "postgresql+psycopg://film@db.example:5432/ledger"


def test_a_bad_setting_whose_value_may_be_secret_is_named_not_shown(tmp_path: Path) -> None:
    from pydantic import ValidationError
    from pydantic_settings import BaseSettings, SettingsConfigDict

    from flows.settings import settings_problems

    class Vault(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="DOCFILM_VAULT_")
        token_url: int = 0

    os.environ["DOCFILM_VAULT_TOKEN_URL"] = "https://user:hunter2@vault"
    try:
        Vault()
    except ValidationError as exc:
        problems = settings_problems(Vault, exc)
    finally:
        del os.environ["DOCFILM_VAULT_TOKEN_URL"]
    assert len(problems) == 1
    assert problems[0].startswith("DOCFILM_VAULT_TOKEN_URL: ") and "hunter2" not in problems[0]


def test_show_json_is_the_ledgers_record_of_one_asset(tmp_path: Path) -> None:
    from assets_manifest.store import Asset, SourceSighting, Upload
    from flows.settings import DocfilmSettings
    from flows.workspace import Workspace, film_path

    home = tmp_path / "home"
    os.environ["DOCFILM_HOME"] = str(home)
    try:
        ws = Workspace(film_path(None), DocfilmSettings.load())
    finally:
        del os.environ["DOCFILM_HOME"]
    sha = "ab" * 32
    master = str(home / "library" / "card" / "A001.mov")
    ws.ledger.add_asset(
        Asset(asset_id=sha[:16], sha256=sha, xxh128="cd" * 16, size=1234, name="A001.mov", path=master,
              path_bytes=master.encode(), kind="video", container="mov", video_codec="prores", width=1920,
              height=1080, fps_num=25, fps_den=1, duration_frames=50, start_timecode="10:00:00:00", scene_id="S01",
              probe={"hdr": None}),
        SourceSighting(path="/card/A001.mov", path_bytes=b"/card/A001.mov", size=1234, mtime_ns=1),
    )
    profile = ws.profile.profile_hash()
    proxy, poster = home / "renders" / profile / "p.mp4", home / "renders" / profile / "p.jpg"
    qc = {"flags": [{"rule": "loudness", "message": "too quiet"}], "loudness": {"integrated_lufs": -31.0}}
    ws.ledger.record_proxy(sha[:16], profile, state="done", proxy_path=proxy, poster_path=poster, qc=StoredQc(qc))
    ws.ledger.record_upload(Upload(endpoint="http://key:hunter2@127.0.0.1:8333", bucket="films",
                                   key="proxies/S01/p.mp4", local_path=str(proxy), sha256="ef" * 32, checksum="b64=",
                                   bytes=99, etag='"e"', asset_id=sha[:16], role="proxy"))

    p = run_cli("show", "abab", "--json", home=home)
    assert p.returncode == 0, p.stderr
    record = json.loads(p.stdout)
    assert record["asset_id"] == sha[:16] and record["library_path"] == master
    assert record["sightings"] == ["/card/A001.mov"]
    assert record["proxy"]["path"] == str(proxy) and record["proxy"]["poster"] == str(poster)
    assert record["proxy"]["profile_hash"] == profile
    assert record["proxy"]["qc_summary"]["flags"] == ["loudness"]
    assert record["proxy"]["qc"] == qc
    [stored] = record["stored"]
    assert stored["url"] == "s3://films/proxies/S01/p.mp4" and stored["endpoint"] == "127.0.0.1:8333"
    assert stored["current"] is True and stored["bytes"] == 99
    assert "hunter2" not in p.stdout

    # The other forms by the installed script's own app in this process (a `docfilm` start: ~1 s of CPU).
    human = docfilm_in_process("show", "abab", env=user_env(home))
    assert human.returncode == 0 and "s3://films/proxies/S01/p.mp4" in human.stdout
    assert "too quiet" in human.stdout  # the flag in words (a flag stored as text keeps its message)
    unknown = docfilm_in_process("show", "ffff", "--json", env=user_env(home))
    assert unknown.returncode == 2 and unknown.stdout == "" and "matches 0 assets" in unknown.stderr


def test_a_pipeline_stage_is_one_line_as_it_ends_and_a_row_of_the_table() -> None:
    import io

    from rich.console import Console

    from assets_manifest.report import DuplicateItem, FailedItem, IngestedItem, IngestReport, QuarantinedItem
    from flows.cli.pipeline import StageCounts, StageLines
    from flows.progress import reporting_stages, stage_finished
    from flows.results import IngestRun, PacketRun, RenderedProxy, RenderFailure, RenderRun, UploadRun

    new = IngestedItem(path="/card/a.mov", asset_id="a" * 16, sha256="0" * 64, xxh128="0" * 32, kind="video",
                       duration_frames=25, fps="25/1", width=64, height=36, rotation=0, start_timecode=None,
                       scene=None, shot=None, library_path="/library/a.mov", field_order="progressive", vfr=False,
                       audio_tracks=1)
    proxy = RenderedProxy("a" * 16, "a.mov", "a.mp4", "a.jpg", None, {})
    ingested = IngestReport((new,) * 2, (DuplicateItem("/card/b.mov", "b" * 16, "/library/b.mov"),) * 26,
                            (QuarantinedItem("/card/c.mov", "moov atom not found"),))
    results = {
        "ingest": IngestRun(ingested),
        "render": RenderRun((proxy,) * 2, 26, (RenderFailure("d" * 16, "d.mov", "ffmpeg failed"),)),
        "upload": UploadRun(skipped=56),
        "packet": PacketRun(path="x/index.html", zip="x.zip", scenes=1, assets=2, as_of="2019-05-20", packet_id="p",
                            manifest="x/manifest.json", changes=0, notes=0),
    }
    buffer = io.StringIO()
    lines = StageLines(Console(file=buffer, width=200))
    with reporting_stages(lines):
        for stage, result in results.items():
            stage_finished(stage, result)
    stage_finished("ingest", results["ingest"])  # nobody listens any more: nothing printed
    printed = [ln.split("  (")[0] for ln in buffer.getvalue().splitlines()]
    assert printed == [
        "ingest  2 new, 26 already in the library, 1 quarantined",
        "render  2 rendered, 26 up to date, 1 failed",
        "upload  0 uploaded, 56 already in S3",
        "packet  1 built",
    ]
    assert [c.stage for c in lines.stages] == ["ingest", "render", "upload", "packet"]
    assert all(c.seconds is not None and c.seconds >= 0 for c in lines.stages)
    failed_copy = IngestRun(IngestReport(ingested.ingested, ingested.duplicates,
                                         failed=(FailedItem("/card/d.mov", "No space left on device"),)))
    assert StageCounts.of("ingest", failed_copy).line() == "ingest  2 new, 26 already in the library, 1 failed"


def test_ingest_counts_the_files_it_reaches_on_the_bars() -> None:
    import io

    from rich.console import Console

    from flows.progress import RichRenderProgress, ingest_ended, ingest_file_started, reporting

    ingest_file_started(Path("nobody/listens.mov"))  # no reporter installed: nothing happens
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with RichRenderProgress(console) as bars, reporting(bars):
        for name in ("A001.mov", "A002.mov", "B001.wav"):
            ingest_file_started(Path("/card") / name)
        [task] = bars.progress.tasks
        assert (task.description, task.completed, task.total) == ("ingest: B001.wav", 3, None)
        ingest_ended()
        assert (task.description, task.completed, task.total) == ("ingest", 3, 3)
    assert "3/3" in console.file.getvalue()  # type: ignore[attr-defined]


def test_the_console_filter_tells_a_known_failure_once_and_keeps_a_bugs_traceback() -> None:
    import logging
    import sys

    from core.errors import BadInput
    from flows.console import ConsoleFilter

    def record(name: str, msg: str, exc: BaseException | None = None, level: int = logging.ERROR) -> logging.LogRecord:
        info = (type(exc), exc, exc.__traceback__) if exc is not None else None
        return logging.LogRecord(name, level, __file__, 1, msg, None, info)

    try:
        try:
            raise BadInput("clip.mov: not a video")
        except BadInput as known:
            raise RuntimeError("wrapped by the engine") from known
    except RuntimeError as wrapped:
        failure = wrapped
    try:
        raise KeyError("a bug")
    except KeyError as bug:
        unknown = bug
    assert sys.exc_info() == (None, None, None)

    quiet = ConsoleFilter(verbose=False, debug=False)
    task_line = record("prefect.task_runs", "Task run failed with exception", failure)
    assert quiet.filter(task_line) and task_line.exc_info is None and task_line.exc_text is None
    assert not quiet.filter(record("prefect.flow_runs", "Encountered exception during execution", failure))
    assert not quiet.filter(record("prefect.task_runs", "Finished in state Failed('…')"))
    bug_line = record("prefect.task_runs", "Task run failed with exception", unknown)
    assert quiet.filter(bug_line) and bug_line.exc_info is not None  # a bug keeps its traceback

    verbose = ConsoleFilter(verbose=True, debug=False)
    assert verbose.filter(record("prefect.task_runs", "Finished in state Failed('…')"))
    debug = ConsoleFilter(verbose=False, debug=True)
    kept = record("prefect.task_runs", "Task run failed with exception", failure)
    assert debug.filter(kept) and kept.exc_info is not None

    # Prefect's event worker still flushing as the process exits: not shown unless -v
    flushing = record("EventsWorker", "Still processing items: 5 items remaining...", level=logging.WARNING)
    assert not quiet.filter(flushing) and verbose.filter(flushing)
    assert quiet.filter(record("EventsWorker", "Failed to send events", level=logging.WARNING))
