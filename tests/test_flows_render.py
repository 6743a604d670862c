"""Rendering through the ledger: only what changed, decided fast; a killed render leaves nothing called done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import pytest
from cli_support import user_env
from sqlalchemy import event

from assets_manifest.store import Asset, Proxy
from flows import steps
from flows.workspace import Workspace, film_path
from renders.settings import RendersSettings

ROOT = Path(__file__).resolve().parent.parent
DOCFILM = Path(sys.executable).parent / "docfilm"
SETTINGS = RendersSettings()  # read once, as a command does


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> Workspace:
    """A workspace whose ledger is the embedded SQLite, then a PostgreSQL server (conftest's `database_url`)."""
    monkeypatch.setenv("DOCFILM_HOME", str(tmp_path / "home"))
    if database_url:
        monkeypatch.setenv("DOCFILM_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("DOCFILM_DATABASE_URL", raising=False)
    return Workspace(film_path(None))


def ledger_env(ws: Workspace) -> dict[str, str]:
    """What a command run in a subprocess needs to find the same ledger."""
    url = ws.settings.ledger.database_url
    return {"DOCFILM_DATABASE_URL": url} if url else {}


def fake_asset(n: int, path: Path, kind: str = "video", **changes: object) -> Asset:
    values: dict[str, object] = {
        "asset_id": f"a{n:05d}", "sha256": f"{n:064x}", "xxh128": f"{n:032x}", "size": 1, "name": f"S01-{n:04d}.mov",
        "path": str(path), "path_bytes": str(path).encode(), "kind": kind, "container": "mov", "width": 320,
        "height": 180, "fps_num": 25, "fps_den": 1, "duration_frames": 250, "audio_tracks": 1, "scene_id": "S01",
        "probe": {"hdr": None, "audio_tracks": [{"index": 1, "codec": "aac", "sample_rate": 48000, "channels": 2}]},
    }  # fmt: skip
    values.update(changes)
    return Asset(**values)


def fill_ledger(ws: Workspace, count: int, *, done: bool) -> None:
    """`count` assets, each with a finished proxy of the current profile whose files exist when `done`."""
    files = ws.renders_dir
    files.mkdir(parents=True, exist_ok=True)
    profile_hash = ws.profile.profile_hash()
    with ws.ledger.session(write=True) as s:
        for n in range(count):
            s.add(fake_asset(n, files / f"master{n}.mov"))
            if done:
                proxy, poster, sheet = (files / f"a{n:05d}{suffix}" for suffix in (".mp4", ".jpg", ".sheet.jpg"))
                for f in (proxy, poster, sheet):
                    f.touch()
                s.add(Proxy(asset_id=f"a{n:05d}", profile_hash=profile_hash, state="done", proxy_path=str(proxy),
                            poster_path=str(poster), qc={"contact_sheet": str(sheet), "flags": []}))  # fmt: skip


def test_usable_audio_tracks_and_hdr_come_from_the_ledger_probe(tmp_path: Path) -> None:
    probe = {"hdr": "pq", "audio_tracks": [
        {"index": 1, "codec": "pcm_s24le", "sample_rate": 48000, "channels": 0},
        {"index": 2, "codec": "pcm_s24le", "sample_rate": 48000, "channels": 1},
        {"index": 3, "codec": "pcm_s24le", "sample_rate": 48000, "channels": 1},
    ]}  # fmt: skip
    src = steps.proxy_source(fake_asset(1, tmp_path / "x.mov", audio_tracks=3, probe=probe), Fraction(25))
    assert src.audio_streams == (2, 3) and src.color_transfer == "smpte2084" and src.kind == "video"
    still = steps.proxy_source(fake_asset(2, tmp_path / "y.jpg", kind="still", fps_num=None, fps_den=None,
                                          audio_tracks=0, probe={"hdr": None}), Fraction(24000, 1001))  # fmt: skip
    assert still.kind == "still" and not still.has_audio and still.fps == Fraction(24000, 1001)  # the film's


def test_render_plan_covers_every_kind_and_is_one_query(ws: Workspace, tmp_path: Path) -> None:
    with ws.ledger.session(write=True) as s:
        s.add(fake_asset(1, tmp_path / "v.mov"))
        s.add(fake_asset(2, tmp_path / "a.wav", kind="audio"))
        s.add(fake_asset(3, tmp_path / "s.jpg", kind="still"))
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(ws.ledger.engine, "before_cursor_execute", count)
    try:
        todo, skipped = steps.render_plan(ws)
    finally:
        event.remove(ws.ledger.engine, "before_cursor_execute", count)
    assert sorted(a.kind for a in todo) == ["audio", "still", "video"] and skipped == 0
    assert len(statements) == 1


def test_a_done_proxy_whose_file_vanished_is_stale_again(ws: Workspace) -> None:
    from flows.render_staleness import nothing_stale

    url, profile_hash = ws.settings.ledger.url(), ws.profile.profile_hash()
    sqlite = not ledger_env(ws)  # render_staleness answers for the embedded ledger only; elsewhere "don't know"
    fill_ledger(ws, 3, done=True)
    assert steps.render_plan(ws) == ([], 3)
    assert nothing_stale(url, profile_hash) == (3 if sqlite else None)
    assert nothing_stale(url, profile_hash, scene="S01") == (3 if sqlite else None)
    assert nothing_stale(url, profile_hash, scene="S02") == (0 if sqlite else None)
    assert nothing_stale(url, "another-profile") is None
    (ws.renders_dir / "a00001.sheet.jpg").unlink()
    todo, skipped = steps.render_plan(ws)
    assert [a.asset_id for a in todo] == ["a00001"] and skipped == 2
    assert nothing_stale(url, profile_hash) is None
    everything, none_skipped = steps.render_plan(ws, everything=True)
    assert len(everything) == 3 and none_skipped == 0


def test_render_staleness_does_not_answer_for_a_ledger_not_at_its_schema_head(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.render_staleness import nothing_stale

    monkeypatch.setenv("DOCFILM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DOCFILM_DATABASE_URL", raising=False)
    ws = Workspace(film_path(None))
    fill_ledger(ws, 2, done=True)
    url, profile_hash = ws.settings.ledger.url(), ws.profile.profile_hash()
    assert nothing_stale(url, profile_hash) == 2
    with ws.ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0004'")
    assert nothing_stale(url, profile_hash) is None  # opening the ledger would migrate it first
    ws.ledger.close()
    assert nothing_stale(f"sqlite:///{tmp_path / 'none.sqlite'}", profile_hash) is None


@pytest.mark.slow
def test_nothing_stale_among_1000_assets_is_decided_without_prefect_or_ffmpeg(ws: Workspace, tmp_path: Path) -> None:
    """Decided from the ledger alone: Prefect is neither started nor imported, no ffmpeg runs. How fast it is,
    against the bare process start, is bench/render.py's (e) (`--quick`), never a timed test."""
    fill_ledger(ws, 1000, done=True)
    # None of the runner's PREFECT_* (Prefect must not start); Python lists every module it imports on stderr.
    env = user_env(ws.home, DOCFILM_FFMPEG="/bin/true", PYTHONPROFILEIMPORTTIME="1", **ledger_env(ws))
    # DOCFILM_FFMPEG=/bin/true: were any render started, it would fail and show in `failed`.
    done = subprocess.run([str(DOCFILM), "render", "--json"], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert __import__("json").loads(done.stdout) == {"rendered": [], "skipped": 1000, "failed": []}
    assert "SKIPPED" in done.stderr
    imported = {ln.rsplit("|", 1)[-1].strip() for ln in done.stderr.splitlines() if ln.startswith("import time:")}
    assert "flows.render_staleness" in imported, "the import list was read"
    # The embedded SQLite ledger answers by sqlite3 alone; PostgreSQL through the ledger's one query.
    sqlite = not ledger_env(ws)
    assert ("flows.steps" in imported) is not sqlite
    heavy = sorted(m for m in imported if m.split(".")[0] in {"prefect", "uvicorn", "fastapi", "ffmpeg", "av"}
                   | ({"sqlalchemy", "alembic"} if sqlite else set()))
    assert heavy == [], heavy
    assert not (ws.home / "prefect").exists()  # Prefect was never started


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(x) for x in text]
    return found


@pytest.mark.slow
def test_kill_9_mid_render_leaves_nothing_done_and_the_next_run_renders_it(ws: Workspace, tmp_path: Path) -> None:
    from renders.synth import make_clip

    master = make_clip(tmp_path / "long.mp4", "h264_mp4", "dài", 12, "10:00:00:00", (320, 180), settings=SETTINGS)
    with ws.ledger.session(write=True) as s:
        s.add(fake_asset(7, master, duration_frames=300, start_timecode="10:00:00:00"))
    asset_id = "a00007"
    script = textwrap.dedent(f"""
        from flows.steps import render_asset
        from flows.workspace import Workspace, film_path
        ws = Workspace(film_path(None))
        asset = next(a for a in ws.ledger.assets() if a.asset_id == {asset_id!r})
        render_asset(ws, asset)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=user_env(ws.home, **ledger_env(ws)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    temp_proxy = ws.renders_dir / f".{asset_id}.tmp.mp4"
    deadline = time.monotonic() + 60
    while not (temp_proxy.exists() and temp_proxy.stat().st_size > 10_000):
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the render never started writing"
        time.sleep(0.05)
    ffmpeg_pids = _children(proc.pid)
    assert len(ffmpeg_pids) == 1
    orphan = ffmpeg_pids[0]
    os.kill(orphan, signal.SIGSTOP)  # hold the orphan still, so the next steps see it alive
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)

    assert not (ws.renders_dir / f"{asset_id}.mp4").exists()
    rows = dict(ws.ledger.render_states(ws.profile.profile_hash()))
    assert list(rows.values()) == [None]  # nothing recorded, certainly not done
    todo, _skipped = steps.render_plan(ws)
    assert [a.asset_id for a in todo] == [asset_id]

    # ffmpeg outlives a killed parent and finishes its temp files; it still holds the render's lock, so a
    # new run leaves the clip alone instead of writing the same temp files at the same time.
    busy = steps.render_asset(ws, todo[0])
    assert busy.failed and busy.reason is not None and "another process" in busy.reason
    assert list(dict(ws.ledger.render_states(ws.profile.profile_hash())).values()) == [None]
    os.kill(orphan, signal.SIGCONT)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{orphan}").exists() and _state(orphan) != "Z":
        assert time.monotonic() < deadline, "the orphaned ffmpeg never finished"
        time.sleep(0.1)
    assert not (ws.renders_dir / f"{asset_id}.mp4").exists()  # it finished a temp, never the final

    result = steps.render_asset(ws, todo[0])
    assert not result.failed and result.qc is not None, result
    assert result.qc.facts.duration_frames == 300 and result.qc.facts.timecode == "10:00:00:00"
    assert steps.render_plan(ws) == ([], 1)
    assert not temp_proxy.exists()  # the leftover temp was overwritten and renamed


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return "Z"


def test_render_tally_feeds_the_bars_and_publishes_in_steps() -> None:
    import io

    from rich.console import Console

    from flows.progress import RenderTally, RichRenderProgress, reporting

    published: list[float] = []
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with RichRenderProgress(console) as bars, reporting(bars):
        tally = RenderTally({"a": 100, "b": 300}, published.append)
        tally.clip_started("a", "S01-01_phỏng-vấn.mov")
        assert [t.description for t in bars.progress.tasks] == ["render: 2 clip(s)", "  S01-01_phỏng-vấn.mov"]
        for frames in range(0, 101, 2):
            tally.advance("a", frames)
        assert bars.progress.tasks[1].completed == 100 and bars.progress.tasks[0].completed == 100
        tally.clip_finished("a", ok=True)
        tally.clip_started("b", "b")
        tally.advance("b", 150)
        tally.clip_finished("b", ok=False)
        assert [t.description for t in bars.progress.tasks] == ["render: 2 clip(s)"]
        assert bars.progress.tasks[0].completed == 400
    # In steps of 5 % while clip a runs (25 % of the frames), then once b ends (b failed half-way).
    assert published == [5.0, 10.0, 15.0, 20.0, 25.0, 62.5, 100.0]
    assert "render: 2 clip(s)" in console.file.getvalue()  # type: ignore[attr-defined]


def test_no_reporter_no_bars() -> None:
    from flows.progress import RenderTally

    tally = RenderTally({"a": 10})
    assert tally.reporter is None
    tally.clip_started("a", "a")
    tally.advance("a", 5)
    assert tally.percent == 50.0
