"""Ingest in place (library=None) against real files: the committed samples and clips made by ffmpeg.

The verified offload into the library is tested in test_assets_manifest_offload.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import pytest

from assets_manifest.errors import UnknownScene
from assets_manifest.hashing import digest_file
from assets_manifest.ingest import assign_scene, ingest
from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings

SAMPLES = Path(__file__).parent / "fixtures" / "samples"
BROKEN = {"malformed_free_box_moov_not_found.mp4", "ftyp_only_fixture-isomv2.mp4"}
SCENES = {f"S{i:02d}" for i in range(1, 13)}
SHOTS = {f"S{i:02d}-{j:02d}" for i in range(1, 13) for j in range(1, 4)}


@pytest.fixture
def ledger(tmp_path: Path, database_url: str | None) -> Iterator[Ledger]:
    """The ledger on SQLite and on PostgreSQL (conftest's `database_url`)."""
    led = Ledger.open(LedgerSettings(home=tmp_path / "home", database_url=database_url))
    yield led
    led.close()


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    dst = tmp_path / "samples"
    shutil.copytree(SAMPLES, dst, ignore=shutil.ignore_patterns("*.md", "*.tsv"))
    return dst


def _state(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns, digest_file(p).sha256) for p in folder.iterdir()}


def ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def test_samples_ingest_quarantine_and_probe(samples: Path, ledger: Ledger) -> None:
    before = _state(samples)
    report = ingest([samples], ledger, scene_ids=SCENES)
    assert _state(samples) == before, "sources must be read only"
    assert {Path(q.path).name for q in report.quarantined} == BROKEN
    for q in report.quarantined:
        assert "moov" in q.reason
    got = {Path(x.path).name: x for x in report.ingested}
    assert len(got) == 11
    assert report.seen == 13
    portrait = got["android_portrait_4k60.mp4"]
    assert abs(portrait.rotation) == 90
    assert (portrait.width, portrait.height, portrait.fps) == (3840, 2160, "60/1")
    mts = got["avchd_1080i_fixture-raw.mts"]
    assert mts.fps == "30000/1001" and mts.field_order == "tt"
    assert got["vp9_odd_dimensions_161x121.webm"].width == 161
    assert got["android_slow_motion_240fps.mp4"].vfr is True
    assert got["iphone6s_tokyo.jpg"].kind == "still"
    assert {got[n].kind for n in ("rf64_sample_rf64.wav", "mp3_vbr_xing_bear.mp3", "aac_fixture.m4a")} == {
        "audio"
    }
    assert got["iphone_dolbyVision-hdr.MOV"].kind == "video"
    for x in report.ingested:
        assert x.sha256 == digest_file(Path(x.path)).sha256
        assert len(x.xxh128) == 32


def test_same_bytes_are_one_asset(samples: Path, tmp_path: Path, ledger: Ledger) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(samples / "aac_fixture.m4a", copy / "another name.m4a")
    first = ingest([samples / "aac_fixture.m4a"], ledger, scene_ids=SCENES)
    second = ingest([copy, samples / "aac_fixture.m4a"], ledger, scene_ids=SCENES)
    assert len(first.ingested) == 1 and not second.ingested
    assert {d.asset_id for d in second.duplicates} == {first.ingested[0].asset_id}
    assert len(ledger.assets()) == 1
    assert len(ledger.sightings(first.ingested[0].asset_id)) == 2


def test_scene_from_file_or_folder_name(tmp_path: Path, ledger: Ledger) -> None:
    card = tmp_path / "card"
    (card / "S03").mkdir(parents=True)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=1", "-c:v", "libx264", str(card / "S03" / "a.mp4"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=1", "-vf", "hue=s=0", "-c:v", "libx264",
           str(card / "S05-02_phỏng vấn.mp4"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=1", "-vf", "negate", "-c:v", "libx264",
           str(card / "S077_unknown.mp4"))
    report = ingest([card], ledger, scene_ids=SCENES, shot_ids=SHOTS)
    got = {Path(x.path).name: x for x in report.ingested}
    assert got["a.mp4"].scene == "S03"
    assert (got["S05-02_phỏng vấn.mp4"].scene, got["S05-02_phỏng vấn.mp4"].shot) == ("S05", "S05-02")
    assert got["S077_unknown.mp4"].scene is None
    assert got["a.mp4"].duration_frames == 25 and got["a.mp4"].fps == "25/1"


def test_forced_scene_and_unknown_scene(tmp_path: Path, ledger: Ledger) -> None:
    clip = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=1", "-c:v", "libx264", str(clip))
    with pytest.raises(UnknownScene):
        ingest([clip], ledger, scene_ids=SCENES, scene="S99")
    report = ingest([clip], ledger, scene_ids=SCENES, scene="S02")
    assert report.ingested[0].scene == "S02"


def test_timecode_and_nfc_names(tmp_path: Path, ledger: Ledger) -> None:
    nfd_name = unicodedata.normalize("NFD", "Cần Thơ cảnh quay.mov")
    clip = tmp_path / nfd_name
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=1", "-c:v", "libx264", "-timecode", "10:02:03:04",
           str(clip))
    report = ingest([tmp_path], ledger, scene_ids=SCENES, exclude=[tmp_path / "home"])
    (x,) = report.ingested
    assert x.start_timecode == "10:02:03:04"
    assert Path(x.path).name == unicodedata.normalize("NFC", nfd_name)
    (asset,) = ledger.assets()
    assert asset.path_bytes == os.fsencode(clip.absolute()), "the name's original bytes are kept"


def test_bad_files_never_stop_the_run(tmp_path: Path, ledger: Ledger) -> None:
    """Also: docfilm's own data dir inside a source folder is not footage."""
    (tmp_path / "empty.mov").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not footage\n")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=1", "-c:v", "libx264", str(tmp_path / "good.mp4"))
    (tmp_path / ".DS_Store").write_bytes(b"\0" * 10)
    report = ingest([tmp_path], ledger, scene_ids=SCENES, exclude=[tmp_path / "home"])
    reasons = {Path(q.path).name: q.reason for q in report.quarantined}
    assert reasons["empty.mov"] == "zero-byte file"
    assert "notes.txt" in reasons
    assert [Path(x.path).name for x in report.ingested] == ["good.mp4"]
    # seeing the same bad file again does not pile up quarantine rows
    ingest([tmp_path], ledger, scene_ids=SCENES, exclude=[tmp_path / "home"])
    assert len(ledger.quarantined()) == 2


def test_assign_scene_prefers_the_file_name(tmp_path: Path) -> None:
    root = tmp_path / "S01"
    assert assign_scene(root, root / "S02_x.mov", SCENES, SHOTS) == ("S02", None)
    assert assign_scene(root, root / "x.mov", SCENES, SHOTS) == ("S01", None)
    assert assign_scene(root, root / "S010.mov", SCENES, SHOTS) == ("S01", None)
