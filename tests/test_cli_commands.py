"""Every command of the README, run as the installed `docfilm` in a subprocess, against the --json contract."""

from __future__ import annotations

import base64
import json
import os
import re
import selectors
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    DOCFILM,
    ROOT,
    CliPipeline,
    PrefectForTests,
    assert_no_traceback,
    docfilm_cli,
    docfilm_in_process,
    make_clip,
    small_film,
    user_env,
)

from delivery.seaweed.server import EmbeddedS3

pytestmark = pytest.mark.slow

INGEST_KEYS = {"path", "asset_id", "sha256", "xxh128", "kind", "duration_frames", "fps", "width", "height",
               "rotation", "start_timecode", "scene"}  # fmt: skip


def _json(p: subprocess.CompletedProcess[str]) -> Any:
    """stdout is exactly one JSON object (logs go to stderr)."""
    return json.loads(p.stdout)


def _files(folder: Path) -> dict[Path, int]:
    return {f: f.stat().st_mtime_ns for f in folder.rglob("*") if f.is_file()}


def test_run_takes_footage_through_to_the_packet(cli_pipeline: CliPipeline) -> None:
    p = cli_pipeline.run
    assert p.returncode == 0, p.stderr[-3000:]
    assert_no_traceback(p)
    result = _json(p)
    assert set(result) >= {"ingest", "render", "upload", "packet", "facts"}
    facts = result["facts"]  # the figures' check, run after the packet: the bundled film's are all sourced
    assert set(facts) == {"figures", "not_sourced", "counts"} and facts["not_sourced"] == 0
    assert facts["counts"]["sourced"] == facts["figures"] > 0

    ingested = result["ingest"]["ingested"]
    assert {Path(x["path"]).name: x["scene"] for x in ingested} == {
        "S01-01_phỏng-vấn.mp4": "S01", "S02-01_cảnh-quay.mp4": "S02"}
    for x in ingested:
        assert set(x) >= INGEST_KEYS
        assert (x["kind"], x["fps"], x["width"], x["height"], x["duration_frames"]) == ("video", "25/1", 320, 180, 25)
    assert sorted(x["start_timecode"] for x in ingested) == ["10:00:00:00", "11:00:00:00"]
    assert result["ingest"]["duplicates"] == [] and result["ingest"]["quarantined"] == []

    render = result["render"]
    assert render["failed"] == [] and len(render["rendered"]) == 2
    assert {r["asset_id"] for r in render["rendered"]} == {x["asset_id"] for x in ingested}
    for r in render["rendered"]:
        assert Path(r["proxy"]).is_file() and Path(r["poster"]).is_file() and isinstance(r["qc"], dict)

    upload = result["upload"]
    assert upload["failed"] == [] and upload["skipped"] == 0
    sizes = sorted(Path(r[k]).stat().st_size for r in render["rendered"] for k in ("proxy", "poster"))
    assert sorted(u["bytes"] for u in upload["uploaded"]) == sizes  # each proxy and poster, once
    assert all(u["key"] and u["checksum"] for u in upload["uploaded"])

    packet = result["packet"]
    assert Path(packet["path"]).name == "index.html" and Path(packet["path"]).is_file()
    assert (packet["scenes"], packet["assets"], packet["as_of"]) == (14, 2, "2019-05-20")
    assert packet["hosted_url"].startswith("http://127.0.0.1:")  # the embedded S3 got the hosted copy


def test_ingest_in_place_with_a_scene_then_render_and_upload_only_what_is_new(
    cli_pipeline: CliPipeline, tmp_path: Path
) -> None:
    env, home = cli_pipeline.env, cli_pipeline.home
    clip = make_clip(tmp_path / "card" / "kamera_0001.mp4", "12:00:00:00")
    before = (clip.read_bytes(), clip.stat().st_mtime_ns)

    p = docfilm_cli("ingest", "--in-place", "--scene", "S03", "--json", str(clip.parent), env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    [item] = _json(p)["ingested"]
    assert (Path(item["path"]), item["scene"]) == (clip, "S03")
    assert not list(home.rglob(clip.name)), "--in-place copies nothing into the library"
    assert (clip.read_bytes(), clip.stat().st_mtime_ns) == before

    # --scene S01: that scene is up to date, so nothing renders, although the new S03 clip is stale.
    renders = _files(home / "renders")
    p = docfilm_cli("render", "--scene", "S01", "--json", env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert _json(p)["rendered"] == [] and _json(p)["failed"] == []
    assert _files(home / "renders") == renders

    p = docfilm_cli("render", "--json", env=env)  # with work to do
    assert p.returncode == 0, p.stderr[-3000:]
    assert_no_traceback(p)
    result = _json(p)
    assert [r["asset_id"] for r in result["rendered"]] == [item["asset_id"]]
    assert (result["skipped"], result["failed"]) == (2, [])
    [rendered] = result["rendered"]
    assert Path(rendered["proxy"]).is_file() and Path(rendered["poster"]).is_file()

    p = docfilm_cli("upload", "--json", env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    upload = _json(p)
    assert (upload["skipped"], upload["failed"]) == (4, [])
    assert sorted(u["bytes"] for u in upload["uploaded"]) == sorted(
        Path(rendered[k]).stat().st_size for k in ("proxy", "poster"))


def test_show_gives_the_ledger_record_of_one_asset(cli_pipeline: CliPipeline) -> None:
    rendered = _json(cli_pipeline.run)["render"]["rendered"][0]
    asset_id = rendered["asset_id"]
    p = docfilm_cli("show", asset_id, "--json", env=cli_pipeline.env)
    assert p.returncode == 0, p.stderr[-3000:]
    record = _json(p)
    assert record["asset_id"] == asset_id
    assert record["proxy"]["path"] == rendered["proxy"]  # its proxy, and (README) where it is stored
    # The same command's other forms, by the installed script's own app in this process (show needs no Prefect;
    # each `docfilm` start costs some 1.3 s of CPU).
    p = docfilm_in_process("show", asset_id[:8], env=cli_pipeline.env)  # the first characters are enough
    assert p.returncode == 0, p.stderr[-3000:]
    assert asset_id in p.stdout and "Bản gốc / Master" in p.stdout  # both languages by default
    english = docfilm_in_process("show", asset_id, "--lang", "en", env=cli_pipeline.env)
    vietnamese = docfilm_in_process("show", asset_id, "--lang", "vi", env=cli_pipeline.env)
    assert english.returncode == vietnamese.returncode == 0
    assert "Master" in english.stdout and "Bản gốc" not in english.stdout and asset_id in english.stdout
    assert "Bản gốc" in vietnamese.stdout and "Master" not in vietnamese.stdout


def test_packet_of_another_film_without_the_hosted_copy(cli_pipeline: CliPipeline, tmp_path: Path) -> None:
    film = small_film(tmp_path / "phim-thu.yaml", film_id="phim-thu", scene_id="S15")
    p = docfilm_cli("status", "--film", str(film), "--as-of", "2019-05-20", "--json", env=cli_pipeline.env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert [s["id"] for s in _json(p)["scenes"]] == ["S15"]

    p = docfilm_cli("packet", "--film", str(film), "--no-hosted", "--as-of", "2019-05-20", "--json",
                    env=cli_pipeline.env)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert_no_traceback(p)
    packet = _json(p)
    assert (packet["scenes"], packet["as_of"]) == (1, "2019-05-20")
    assert not packet.get("hosted_url")
    index = Path(packet["path"])
    assert index.is_file() and "phim-thu" in index.parts  # the other film's packet, beside the bundled one's
    other = _json(cli_pipeline.run)["packet"]["path"]
    assert Path(other).is_file() and Path(other) != index


def _read_until(process: subprocess.Popen[bytes], pattern: str, timeout: float) -> tuple[re.Match[str], str]:
    """The process's output until it matches `pattern` (read from the pipe unbuffered, so select() sees it all)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
            if found := re.search(pattern, seen.decode(errors="replace")):
                return found, seen.decode(errors="replace")
    raise AssertionError(f"no {pattern!r} within {timeout} s; output: {seen.decode(errors='replace')!r}")


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _flow_runs(api_url: str, auth: str) -> list[dict[str, Any]]:
    """The flow runs a Prefect API holds (Basic auth, as docfilm's own servers ask)."""
    token = base64.b64encode(auth.encode()).decode()
    request = urllib.request.Request(f"{api_url}/flow_runs/filter", data=b"{}", method="POST",
                                     headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        runs: list[dict[str, Any]] = json.loads(response.read())
    return runs


def test_serve_runs_the_embedded_s3_and_prefect_for_the_commands_until_ctrl_c(
    tmp_path: Path, prefect_for_tests: PrefectForTests
) -> None:
    home = tmp_path / "home"
    prefect_for_tests.seed(home)  # migrated, as after a first command: no migrations here
    make_clip(tmp_path / "card" / "S01-01_a.mp4", "10:00:00:00")
    env = user_env(home)
    # Started as `docfilm serve &` in a script starts it: with SIGINT ignored, which Python would obey, never
    # raising KeyboardInterrupt. serve takes the signal itself, so `kill -INT` still stops it.
    process = subprocess.Popen(["sh", "-c", 'trap "" INT; exec "$0" serve', str(DOCFILM)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env, cwd=ROOT)  # fmt: skip
    try:
        # Its ready line names the endpoint, Prefect's API and Ctrl-C (a log line may name the endpoint before).
        found, seen = _read_until(process, r"(?s)(http://127\.0\.0\.1:\d+)[^\n]*\n?.*Prefect API at "
                                           r"(http://127\.0\.0\.1:\d+/api).*Ctrl-C", 60)
        endpoint, api_url = found.group(1), found.group(2)
        assert 200 <= _http_status(endpoint) < 500  # an S3 answers (anonymous requests may be refused)
        record = home / "prefect" / "served.json"
        assert record.stat().st_mode & 0o777 == 0o600  # it holds the API's auth string
        served = json.loads(record.read_text())
        assert served["api_url"] == api_url and served["auth"] not in seen
        with pytest.raises(urllib.error.HTTPError) as refused:
            _flow_runs(api_url, "docfilm:guessed")
        assert refused.value.code == 401  # the API asks for the generated auth string

        # A flow command run meanwhile runs on serve's server, not on one of its own: a server it started itself
        # would fail on this database setting (which only a server reads).
        no_own_server = env | {"PREFECT_API_DATABASE_CONNECTION_URL": "sqlite+aiosqlite:////nonexistent/prefect.db"}
        ingested = docfilm_cli("ingest", str(tmp_path / "card"), "--json", env=no_own_server)
        assert ingested.returncode == 0, ingested.stderr[-3000:]
        assert [r["name"] for r in _flow_runs(api_url, served["auth"])] != []
        # The same server named by hand with the wrong credentials: exit 3 before any flow, not Prefect's 401.
        wrong = docfilm_cli("ingest", str(tmp_path / "card"), "--json",
                            env=env | {"PREFECT_API_URL": api_url, "PREFECT_API_AUTH_STRING": "docfilm:guessed"})
        assert wrong.returncode == 3 and "refused docfilm's credentials (HTTP 401)" in wrong.stderr, wrong.stderr
        assert "Traceback" not in wrong.stderr and "guessed" not in wrong.stderr
        process.send_signal(signal.SIGINT)
        # An event, not a deadline: weed's own stop takes 1-2 s quiet, up to its 10 s grace on a loaded machine.
        rest = process.communicate(timeout=120)[0].decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        # A serve killed above leaves its weed (its own session) behind: never leak it past the test.
        EmbeddedS3.stop_recorded(home, stop_timeout=2.0)
    assert process.returncode == 0, seen + rest
    assert "Traceback" not in seen + rest
    with pytest.raises(urllib.error.URLError):
        _http_status(endpoint)  # stopped with it
    with pytest.raises(urllib.error.URLError):
        _http_status(f"{api_url}/health")
    assert not record.exists()


def _the_packet_opens_on_the_film(browser: Any, index: Path) -> None:
    """The demo's packet in Chromium: its first player is the string-out, with a chapter per scene and the vi
    and en subtitles carried in the page (vi showing), and it plays to its end."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(index.as_uri())
        page.wait_for_selector("html[data-ready=yes]")
        first = page.evaluate("""() => { const p = document.querySelector("video, audio, a.player");
            return p && p.id; }""")
        assert first == "cut-video", "the packet's first player is the film"
        assert page.locator("#chapters button.chapter").count() == 1  # the demo's film has one scene
        page.wait_for_function("""() => { const t = Array.from(document.getElementById("cut-video").textTracks)
            .find(t => t.kind === "subtitles" && t.language === "vi"); return t && t.cues && t.cues.length > 0; }""",
            polling=100)
        tracks = page.evaluate("""() => Object.fromEntries(Array.from(document.getElementById("cut-video")
            .textTracks).filter(t => t.kind === "subtitles").map(t => [t.language, t.mode]))""")
        assert tracks == {"vi": "showing", "en": "disabled"}
        ended = page.evaluate("""async () => { const v = document.getElementById("cut-video");
            if (v.readyState < 1) await new Promise(r => v.addEventListener("loadedmetadata", r, {once: true}));
            v.muted = true; v.playbackRate = 8;
            const done = new Promise(r => v.addEventListener("ended", r, {once: true}));
            await v.play(); await done;
            return {ended: v.ended, duration: v.duration, error: v.error && v.error.code}; }""")
        assert ended["ended"] and ended["error"] is None and ended["duration"] > 2
        assert errors == []
    finally:
        page.close()


@pytest.mark.browser
def test_demo_runs_the_pipeline_and_leaves_nothing_stale(tmp_path: Path, prefect_for_tests: PrefectForTests,
                                                         chromium_browser: Any) -> None:
    # The demo makes footage for the film's scenes: a film of one scene keeps it to two clips (and the broken
    # file it must quarantine).
    film = small_film(tmp_path / "film.yaml", film_id="can-tho-xiv", scene_id="S01")
    home = tmp_path / "home"
    env = prefect_for_tests.env(home, DOCFILM_FILM=str(film))
    p = p_demo = docfilm_cli("demo", env=env, timeout=280)
    assert p.returncode == 0, p.stderr[-3000:]
    assert_no_traceback(p)
    paths = re.findall(r"(/\S*/index\.html)", p.stdout + p.stderr)
    assert paths and Path(paths[-1]).is_file(), "the demo prints the packet's path"
    _the_packet_opens_on_the_film(chromium_browser, Path(paths[-1]))
    renders = _files(home / "renders")
    assert len([f for f in renders if f.suffix == ".mp4"]) == 2

    # What a second demo would render: nothing (decided without Prefect or ffmpeg).
    p = docfilm_cli("render", "--json", env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    result = _json(p)
    assert (result["rendered"], result["skipped"], result["failed"]) == ([], 2, [])
    assert _files(home / "renders") == renders

    # The demo rendered the string-out as the review cut; rendering it again reuses every segment and
    # leaves every file of the cut byte for byte as it was.
    assert re.search(r"^cut +1 segments rendered, 0 reused", p_demo.stderr, re.M), p_demo.stderr[-2000:]
    cut_files = {f: f.read_bytes() for f in (home / "cuts").rglob("*") if f.is_file()}
    assert any(f.name == "can-tho-xiv-review.mp4" for f in cut_files)
    p = docfilm_cli("cut", "render", "--json", env=env, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    cut = _json(p)
    assert [(s["scene"], s["rendered"]) for s in cut["segments"]] == [("S01", False)]
    assert cut["start_timecode"] == "00:00:00:00" and cut["unresolved"] == []
    assert set(cut["subtitles"]) == {"vi", "en"} and cut["qc"]["runtime_ok"] is True
    assert {f: f.read_bytes() for f in (home / "cuts").rglob("*") if f.is_file()} == cut_files

    # A second demo finds every stage up to date from the ledger and the files, without running the flow: one
    # line per stage, each saying how it was shown; nothing under DOCFILM_HOME's media is rewritten.
    media = _files(home / "renders") | _files(home / "packets")
    p = docfilm_cli("demo", env=env, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "nothing to do: every stage is up to date" in p.stderr
    assert re.search(r"^ingest +0 new, 2 already in the library, 1 quarantined, sources unchanged since ingested "
                     r"\(size, mtime; not re-read\)", p.stderr, re.M), p.stderr[-2000:]
    assert re.search(r"^render +0 rendered, 2 up to date", p.stderr, re.M)
    assert re.search(r"^upload +0 uploaded, 4 already in S3, verified uploads in the ledger", p.stderr, re.M)
    assert re.search(r"^packet +0 built, unchanged since built \(rebuild key\); hosted copy valid until", p.stderr,
                     re.M), p.stderr[-2000:]
    assert paths[-1] in p.stdout + p.stderr
    assert _files(home / "renders") | _files(home / "packets") == media


def test_up_to_date_check_names_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """flows.uptodate: a source with a new mtime, a proxy gone, a packet input changed each end the check with the
    reason, so the flow runs; no flow or S3 is needed to decide (this test has neither)."""
    from datetime import date

    from flows.settings import DocfilmSettings
    from flows.uptodate import pipeline_up_to_date
    from flows.workspace import Workspace

    film = small_film(tmp_path / "film.yaml", film_id="can-tho-xiv", scene_id="S01")
    card = tmp_path / "card" / "S01"
    card.mkdir(parents=True)
    clip = make_clip(card / "S01-01_a.mp4", "10:00:00:00")
    for name in [k for k in os.environ if k.startswith("DOCFILM_")]:
        monkeypatch.delenv(name)
    for name, value in user_env(tmp_path / "home").items():
        if name.startswith("DOCFILM_"):
            monkeypatch.setenv(name, value)
    ws = Workspace(film, DocfilmSettings.load())
    checked = pipeline_up_to_date(ws, [str(card.parent)], as_of=date(2019, 5, 20))
    assert isinstance(checked, str) and checked.startswith("ingest: ") and "S01-01_a.mp4" in checked

    from assets_manifest.ingest import ingest

    ingest([card.parent], ws.ledger, scene_ids=ws.scene_ids(), exclude=[ws.home],
           library=ws.settings.ledger.library_dir())
    checked = pipeline_up_to_date(ws, [str(card.parent)], as_of=date(2019, 5, 20))
    assert checked == "render: 1 proxies to render"
    os.utime(clip, ns=(clip.stat().st_atime_ns, clip.stat().st_mtime_ns + 10**9))
    checked = pipeline_up_to_date(ws, [str(card.parent)], as_of=date(2019, 5, 20))
    assert checked == f"ingest: {clip} is new or changed since it was last ingested"
