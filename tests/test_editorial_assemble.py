"""`docfilm cut assemble`: the string-out from a real ledger, stored as an immutable, versioned .otio."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import opentimelineio as otio
import pytest
import yaml
from cli_support import PrefectForTests, assert_no_traceback, docfilm_cli, docfilm_in_process, user_env
from qc_support import StoredQc

from assets_manifest.ingest import ingest
from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings
from editorial.assemble import shares
from renders.profile import RenderProfile
from storyboard.loader import bundled_film_path


def make_source(path: Path, frames: int, hue: int) -> None:
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=160x90:rate=25,hue=h={hue}", "-frames:v", str(frames),
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-timecode", "12:00:00:00", str(path)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """A film whose S01 (101 frames, 3 shots) and S02 (60 frames, 2 shots) have some footage; the rest none."""
    root = tmp_path_factory.mktemp("assemble")
    doc = yaml.safe_load(bundled_film_path().read_text(encoding="utf-8"))
    s01, s02 = doc["scenes"][0], doc["scenes"][1]
    s01["planned_frames"], s02["planned_frames"] = 101, 60
    s01["shots"][1]["take"] = "S01-02_alt.mov"  # the editor's choice, over a later clean take
    film = root / "film.yaml"
    film.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    # The film's facts come from the facts files it includes: they travel with it.
    shutil.copytree(bundled_film_path().parent / "facts", root / "facts")
    home = root / "home"
    ledger = Ledger.open(LedgerSettings(home=home))
    scenes = {s["id"] for s in doc["scenes"]}
    shots = {shot["id"] for s in doc["scenes"] for shot in s["shots"]}
    profile = RenderProfile().profile_hash()
    ids: dict[str, str] = {}
    # in ingest order: later takes are later in the ledger
    for hue, (name, frames, flagged) in enumerate([
        ("S01-01_a.mov", 50, False), ("S01-02_alt.mov", 50, False), ("S01-01_b.mov", 50, False),
        ("S01-02_main.mov", 50, False), ("S01-01_c.mov", 50, True), ("S02-01.mov", 25, False),
    ]):
        path = root / "card" / name
        path.parent.mkdir(exist_ok=True)
        make_source(path, frames, hue * 50)
        item = ingest([path], ledger, scene_ids=scenes, shot_ids=shots, film_rate=Fraction(25)).ingested[0]
        ids[name] = item.asset_id
        qc = {"flags": [{"rule": "black"}]} if flagged else {"flags": []}
        ledger.record_proxy(item.asset_id, profile, state="done", qc=StoredQc(qc))
    ledger.close()
    return home, film, ids


def test_string_out(setup: tuple[Path, Path, dict[str, str]]) -> None:
    home, film, ids = setup
    p = docfilm_cli("cut", "assemble", "--film", str(film), "--json", env=user_env(home))
    assert_no_traceback(p)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["fps"] == "25/1" and r["version"] == 1 and r["new"] is True
    scenes = {s["scene"]: s for s in r["scenes"]}
    assert [s["scene"] for s in r["scenes"]][:3] == ["S01", "S02", "S03"]
    assert scenes["S01"] == {"scene": "S01", "frames": 50 + 101, "takes": 2, "slates": 1}
    assert scenes["S02"] == {"scene": "S02", "frames": 50 + 60, "takes": 1, "slates": 1}
    assert scenes["S03"]["takes"] == 0 and scenes["S03"]["slates"] == 1
    assert r["events"] == 3 and r["frames"] == sum(s["frames"] for s in r["scenes"])

    timeline = otio.adapters.read_from_file(r["path"])
    assert timeline.metadata["docfilm"]["film_id"] == "can-tho-xiv"
    items = list(timeline.video_tracks()[0])
    kinds = [(i.metadata["docfilm"]["kind"] if isinstance(i, otio.schema.Clip) else "gap") for i in items]
    assert kinds[:9] == ["title", "take", "take", "slate", "title", "take", "gap", "slate", "title"]
    title = items[0]
    assert title.duration().value == 50 and title.media_reference.generator_kind == "docfilm_title"
    assert title.metadata["docfilm"]["title_vi"] and title.metadata["docfilm"]["title_en"]
    # S01's 101 frames shared over 3 shots: 34, 34, 33; the latest clean take, and the storyboard's choice
    one, two, slate = items[1], items[2], items[3]
    assert one.metadata["docfilm"]["asset_id"] == ids["S01-01_b.mov"]  # _c is later but QC-flagged
    assert two.metadata["docfilm"]["asset_id"] == ids["S01-02_alt.mov"]
    assert [i.duration().value for i in (one, two, slate)] == [34, 34, 33]
    assert one.source_range.start_time.value == 12 * 3600 * 25  # from the take's head (its timecode)
    assert slate.metadata["docfilm"]["shot"] == "S01-03"
    # S02-01 has 25 frames for a 30-frame share: it plays whole, black holds the plan's time
    assert items[5].duration().value == 25 and items[6].duration().value == 5
    markers = {m.name: m.marked_range.start_time.value for m in timeline.tracks.markers}
    assert markers["S01"] == 0 and markers["S02"] == 151 and markers["S03"] == 151 + 110

    # Again, by the same app in this process (cut assemble needs no Prefect; a `docfilm` start is some 1.3 s of CPU)
    again = json.loads(docfilm_in_process("cut", "assemble", "--film", str(film), "--json", env=user_env(home)).stdout)
    assert again["path"] == r["path"] and again["new"] is False and again["version"] == 1
    assert Path(r["path"]).read_bytes() and not Path(r["path"]).stat().st_mode & 0o222  # read-only


def test_shares() -> None:
    assert shares(101, 3) == [34, 34, 33] and shares(2, 3) == [1, 1, 0] and sum(shares(3375, 7)) == 3375


def test_render_without_proxies_lists_the_takes(setup: tuple[Path, Path, dict[str, str]],
                                                 prefect_for_tests: PrefectForTests) -> None:
    # The ledger says these proxies are done but holds no file for them: `cut render` renders nothing and
    # names every take it would need (the user runs `docfilm render` first). Its flow runs on the session's
    # Prefect server (README: PREFECT_API_URL), not on one of its own started for this test.
    home, film, _ids = setup
    assert docfilm_in_process("cut", "assemble", "--film", str(film), env=user_env(home)).returncode == 0
    p = docfilm_cli("cut", "render", "--film", str(film), env=prefect_for_tests.env(home))
    assert_no_traceback(p)
    assert p.returncode == 1, p.stderr
    assert "no proxy" in p.stderr and "S01-01_b.mov" in p.stderr and "docfilm render" in p.stderr
    assert not (home / "cuts" / "can-tho-xiv" / "review").exists()
