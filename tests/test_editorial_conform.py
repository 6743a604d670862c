"""`docfilm cut import`: editors' EDLs (Avid, Premiere), FCP 7 XML and FCPXML conformed to a real ledger.

The sources are made by ffmpeg with the camera timecode the cuts name and ingested in place; the cuts are the
committed files in tests/fixtures/cuts (see its README). Every record and source range is checked to the frame
against timecode arithmetic done here with opentime, at 25, 29.97 drop-frame and 23.976.
"""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import opentimelineio as otio
import pytest
from cli_support import assert_no_traceback, docfilm_cli, docfilm_in_process, user_env
from opentimelineio import opentime

from assets_manifest.ingest import ingest
from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings
from editorial.conform import media_file_name
from editorial.errors import InvalidRate
from editorial.rates import cut_rate

CUTS = Path(__file__).parent / "fixtures" / "cuts"
NTSC = Fraction(30000, 1001)
FILM_23976 = Fraction(24000, 1001)

# name, rate, start timecode, seconds
SOURCES = [
    ("A001C003.mov", Fraction(25), "01:00:10:00", 4),
    ("INTERVIEW_01.mov", Fraction(25), "10:00:00:00", 2),
    ("tcmatch.mov", Fraction(25), "05:00:00:00", 2),
    ("clipthree.mov", Fraction(25), "10:00:00:00", 2),
    ("ntsc_df.mov", NTSC, "01:00:58;00", 4),
    ("film2398.mov", FILM_23976, "02:00:00:00", 2),
]


def tc(text: str, rate: Fraction) -> int:
    """Frames since 00:00:00:00 of a timecode (';' drop-frame) at `rate`: the expected values."""
    return round(opentime.from_timecode(text, float(rate)).value)


def make_source(path: Path, rate: Fraction, start: str, seconds: int) -> None:
    # Two sources of one length and timecode would be the same bytes (one asset): the name picks the pattern.
    pattern = "testsrc" if path.stem.islower() else "testsrc2"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"{pattern}=size=160x90:rate={rate.numerator}/{rate.denominator}",
         "-frames:v", str(round(seconds * rate)), "-c:v", "libx264", "-preset", "ultrafast", "-g", "12",
         "-pix_fmt", "yuv420p", "-timecode", start, str(path)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A docfilm home whose ledger holds the sources, ingested in place."""
    root = tmp_path_factory.mktemp("cut_import")
    cards = root / "card"
    cards.mkdir()
    for name, rate, start, seconds in SOURCES:
        make_source(cards / name, rate, start, seconds)
    home = root / "home"
    ledger = Ledger.open(LedgerSettings(home=home))
    report = ingest([cards], ledger, scene_ids={"S01", "S02"}, film_rate=Fraction(25))
    assert not report.quarantined and len(report.ingested) == len(SOURCES)
    starts = {a.name: a.start_timecode for a in ledger.assets()}
    assert starts["ntsc_df.mov"] == "01:00:58;00" and starts["film2398.mov"] == "02:00:00:00"
    ledger.close()
    return home


def run_import(home: Path, cut: Path, *extra: str, installed: bool = False
               ) -> tuple[subprocess.CompletedProcess[str], dict]:
    """`docfilm cut import` (the installed script when `installed`, else the same app in this process)."""
    run = docfilm_cli if installed else docfilm_in_process
    p = run("cut", "import", str(cut), "--json", *extra, env=user_env(home))
    assert_no_traceback(p)
    return p, (json.loads(p.stdout) if p.stdout.strip() else {})


def asset_ids(home: Path) -> dict[str, str]:
    ledger = Ledger.open(LedgerSettings(home=home))
    try:
        return {a.name: a.asset_id for a in ledger.assets()}
    finally:
        ledger.close()


def test_avid_edl_at_25_conforms_in_order_and_lists_what_it_cannot(home: Path) -> None:
    p, r = run_import(home, CUTS / "avid_25.edl", "--rate", "25", installed=True)
    assert p.returncode == 1, p.stderr  # events 004 and 005 could not be conformed
    ids = asset_ids(home)
    assert r["fps"] == "25/1" and r["events"] == 6
    assert r["start_frame"] == tc("00:59:53:11", Fraction(25))
    got = {e["event"]: e for e in r["resolved"]}
    assert sorted(got) == [1, 2, 3]
    # the conform order: clip name, then reel (Avid's 8 characters), then source timecode alone
    assert [got[n]["matched_by"] for n in (1, 2, 3)] == ["clip-name", "reel", "timecode"]
    assert [got[n]["asset_id"] for n in (1, 2, 3)] == [ids["A001C003.mov"], ids["INTERVIEW_01.mov"],
                                                        ids["tcmatch.mov"]]
    r25 = Fraction(25)
    assert (got[1]["record_in"], got[1]["record_out"]) == (tc("00:59:53:11", r25), tc("00:59:54:11", r25))
    assert (got[1]["source_in"], got[1]["source_out"]) == (0, 25)
    assert (got[2]["record_in"], got[2]["source_in"], got[2]["source_out"]) == (tc("00:59:54:11", r25), 5, 30)
    # event 003 follows a 9-frame gap in record time
    assert (got[3]["record_in"], got[3]["record_out"]) == (tc("00:59:55:20", r25), tc("00:59:56:10", r25))
    assert (got[3]["source_in"], got[3]["source_out"]) == (10, 25)
    missing = {u["event"]: u for u in r["unresolved"]}
    assert sorted(missing) == [4, 5, 6]
    assert missing[4]["name"] == "NOT_SHOT_YET" and "no asset" in missing[4]["reason"]
    assert "runs outside A001C003.mov" in missing[5]["reason"]  # 01:00:13:00–01:00:15:00 past the 4 s asset
    assert missing[6]["reason"] == "generator"  # BL: black, not a failure
    # the stored version: one flattened track, missing media kept as slates of their length, record start kept
    stored = otio.adapters.read_from_file(r["path"])
    assert stored.global_start_time.value == tc("00:59:53:11", r25)
    items = [i for i in stored.video_tracks()[0] if isinstance(i, otio.schema.Clip)]
    assert [i.metadata["docfilm"]["kind"] for i in items] == ["take", "take", "take", "missing", "missing",
                                                            "generator"]
    slate = items[3]
    assert slate.metadata["docfilm"]["kind"] == "missing" and slate.duration().value == 25
    assert items[0].metadata["docfilm"]["asset_id"] == ids["A001C003.mov"]
    assert stored.duration().value == tc("01:00:00:10", r25) - tc("00:59:53:11", r25)


def test_premiere_edl_at_2997_drop_frame(home: Path) -> None:
    p, r = run_import(home, CUTS / "premiere_2997df.edl", "--rate", "29.97")
    assert p.returncode == 0, p.stderr
    assert r["fps"] == "30000/1001" and r["unresolved"] == []
    ids = asset_ids(home)
    one, two = r["resolved"]
    assert one["matched_by"] == two["matched_by"] == "clip-name"  # Premiere writes the file name
    assert one["asset_id"] == two["asset_id"] == ids["ntsc_df.mov"]
    assert (one["record_in"], one["record_out"]) == (tc("01:00:00;00", NTSC), tc("01:00:01;15", NTSC))
    assert (one["source_in"], one["source_out"]) == (0, 45)
    # event 002 crosses 01:01:00, where drop-frame skips ;00 and ;01: 20 frames, not 22
    assert (two["record_in"], two["record_out"]) == (tc("01:00:01;15", NTSC), tc("01:00:02;05", NTSC))
    assert (two["source_in"], two["source_out"]) == (50, 70)
    assert r["start_frame"] == tc("01:00:00;00", NTSC) and r["frames"] == 65


@pytest.mark.parametrize("rate", ["23.976", "24000/1001"])
def test_premiere_edl_at_23976(home: Path, rate: str) -> None:
    p, r = run_import(home, CUTS / "premiere_23976.edl", "--rate", rate)
    assert p.returncode == 0, p.stderr
    assert r["fps"] == "24000/1001"
    one, two = r["resolved"]
    assert (one["record_in"], one["record_out"], one["source_in"], one["source_out"]) == (0, 12, 0, 12)
    assert (two["record_in"], two["record_out"], two["source_in"], two["source_out"]) == (12, 35, 24, 47)


def test_fcp7_xml_flattens_tracks_and_reads_windows_paths(home: Path) -> None:
    p, r = run_import(home, CUTS / "premiere_fcp7.xml")
    assert p.returncode == 0, p.stderr  # a generator is listed, but is not a failure
    ids = asset_ids(home)
    start = tc("01:00:00:00", Fraction(25))
    assert r["start_frame"] == start and r["events"] == 4
    got = {e["event"]: e for e in r["resolved"]}
    assert sorted(got) == [1, 2, 4]
    assert got[1]["matched_by"] == "file-name" and got[1]["asset_id"] == ids["clipthree.mov"]  # D:\media\…
    assert (got[1]["record_in"], got[1]["source_in"], got[1]["source_out"]) == (start, 5, 30)
    assert got[2]["asset_id"] == got[4]["asset_id"] == ids["INTERVIEW_01.mov"]
    # the slug on V2 covers 40–60 of the interview below it
    assert (got[2]["record_in"], got[2]["record_out"], got[2]["source_in"], got[2]["source_out"]) == (
        start + 25, start + 40, 0, 15)
    assert (got[4]["record_in"], got[4]["record_out"], got[4]["source_in"], got[4]["source_out"]) == (
        start + 60, start + 75, 35, 50)
    assert r["unresolved"] == [{"event": 3, "name": "Slug", "reason": "generator"}]


def test_fcpxml(home: Path) -> None:
    p, r = run_import(home, CUTS / "resolve.fcpxml")
    assert p.returncode == 0, p.stderr
    ids = asset_ids(home)
    start = tc("01:00:00:00", Fraction(25))
    one, two = r["resolved"]
    assert (one["asset_id"], one["matched_by"]) == (ids["clipthree.mov"], "file-name")
    assert (one["record_in"], one["record_out"], one["source_in"], one["source_out"]) == (start, start + 25, 0, 25)
    assert two["asset_id"] == ids["A001C003.mov"]
    # start 90260/25 s = 01:00:10:10
    assert (two["record_in"], two["record_out"], two["source_in"], two["source_out"]) == (
        start + 25, start + 75, 10, 60)


def test_each_import_is_a_new_immutable_version(home: Path) -> None:
    _p, first = run_import(home, CUTS / "premiere_23976.edl", "--rate", "23.976")
    _p, again = run_import(home, CUTS / "premiere_23976.edl", "--rate", "23.976")
    assert again["path"] == first["path"] and again["new"] is False  # the same cut is not stored twice
    _p, other = run_import(home, CUTS / "premiere_2997df.edl", "--rate", "29.97")
    assert other["version"] > first["version"] and other["path"] != first["path"]
    assert Path(first["path"]).is_file() and Path(first["path"]).parent == home.absolute() / "cuts" / "can-tho-xiv"
    assert other["source_sha256"] and len(other["sha256"]) == 64


def test_bad_inputs_name_file_and_event(home: Path, tmp_path: Path) -> None:
    p, _ = run_import(home, CUTS / "overlap.edl", "--rate", "25", installed=True)
    assert p.returncode == 2
    assert "overlap.edl" in p.stderr and "event 002" in p.stderr and "event 001" in p.stderr

    broken = tmp_path / "broken.xml"
    broken.write_text("<xmeml version='4'>\n<sequence>\n<name>x</sequence>\n", encoding="utf-8")
    p, _ = run_import(home, broken)
    assert p.returncode == 2 and "broken.xml" in p.stderr and "line 3" in p.stderr

    audio_only = otio.schema.Timeline(name="sound only")
    audio_only.tracks.append(otio.schema.Track(kind=otio.schema.TrackKind.Audio))
    path = tmp_path / "sound.otio"
    otio.adapters.write_to_file(audio_only, str(path))
    p, _ = run_import(home, path)
    assert p.returncode == 2 and "sound.otio" in p.stderr and "no video track" in p.stderr

    foreign = otio.schema.Timeline(name="another film")
    foreign.metadata["docfilm"] = {"film_id": "another-film"}
    foreign.tracks.append(otio.schema.Track(kind=otio.schema.TrackKind.Video))
    path = tmp_path / "foreign.otio"
    otio.adapters.write_to_file(foreign, str(path))
    p, _ = run_import(home, path)
    assert p.returncode == 2 and "foreign.otio" in p.stderr and "another-film" in p.stderr

    p, _ = run_import(home, CUTS / "avid_25.edl", "--rate", "23.97")
    assert p.returncode == 2 and "--rate" in p.stderr

    p, _ = run_import(home, CUTS / "README.md")
    assert p.returncode == 2 and "no adapter" in p.stderr


def test_rates_and_media_names() -> None:
    assert cut_rate("23.976") == cut_rate("24000/1001") == Fraction(24000, 1001)
    assert cut_rate("29.97") == NTSC and cut_rate("59.94") == Fraction(60000, 1001) and cut_rate("25") == 25
    with pytest.raises(InvalidRate):
        cut_rate("23.97")
    clip = otio.schema.Clip(name="x")
    for url in ("D:\\media\\x.mov", "file://localhost/D%3a/media/x.mov", "file:///D:/media/x.mov",
                "/Volumes/RAID/x.mov", "file:///home/ed/x.mov"):
        clip.media_reference = otio.schema.ExternalReference(target_url=url)
        assert media_file_name(clip) == "x.mov", url


@pytest.mark.parametrize(("cut", "rate", "fmt"), [
    ("avid_25.edl", "25", "edl"), ("premiere_2997df.edl", "29.97", "edl"), ("premiere_23976.edl", "23.976", "edl"),
    ("avid_25.edl", "25", "fcp7xml"), ("premiere_fcp7.xml", "25", "fcp7xml"), ("premiere_2997df.edl", "29.97", "otio"),
])
def test_export_round_trip(home: Path, tmp_path: Path, cut: str, rate: str, fmt: str) -> None:
    """An exported cut imported again gives the same events, record and source ranges exact to the frame."""
    _p, first = run_import(home, CUTS / cut, "--rate", rate)
    suffix = {"edl": ".edl", "fcp7xml": ".xml", "otio": ".otio"}[fmt]
    exported = tmp_path / f"export{suffix}"
    p = docfilm_in_process("cut", "export", "--format", fmt, "--out", str(exported), "--json", env=user_env(home))
    assert_no_traceback(p)
    assert p.returncode == 0, p.stderr
    text = exported.read_text(encoding="utf-8")
    if fmt == "edl":
        assert "* FROM CLIP NAME:" in text
        reels = [line.split()[1] for line in text.splitlines() if line[:3].isdigit()]
        assert reels and all(len(reel) <= 8 for reel in reels)
    _p, again = run_import(home, exported, "--rate", rate)

    def events(r: dict) -> list[tuple]:
        return [(e["asset_id"], e["record_in"], e["record_out"], e["source_in"], e["source_out"])
                for e in r["resolved"]]

    assert events(again) == events(first)
    assert again["start_frame"] == first["start_frame"]  # e.g. 00:59:53:11 survives the EDL writer
    assert all(e["matched_by"] == "file-name" for e in again["resolved"])  # relinked to the masters
    assert [u for u in again["unresolved"] if u["reason"] != "generator"] == []


def test_aaf_written_by_the_adapter_itself(home: Path, tmp_path: Path) -> None:
    """An AAF as otio-aaf-adapter writes it (it needs a mob id per clip; it makes empty ones when asked): the
    clips conform by their media's file names, record and source frames exact."""
    r25 = Fraction(25)

    def clip(name: str, first: int, frames: int) -> otio.schema.Clip:
        rng = otio.opentime.TimeRange(otio.opentime.RationalTime(first, 25), otio.opentime.RationalTime(frames, 25))
        ref = otio.schema.ExternalReference(target_url=f"file:///Volumes/MEDIA/{name}", available_range=rng)
        return otio.schema.Clip(name=Path(name).stem, media_reference=ref, source_range=rng)

    timeline = otio.schema.Timeline(name="aaf")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    track.append(clip("A001C003.mov", tc("01:00:10:00", r25), 25))
    track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(9, 25)))
    track.append(clip("INTERVIEW_01.mov", tc("10:00:00:05", r25), 25))
    path = tmp_path / "avid.aaf"
    otio.adapters.write_to_file(timeline, str(path), use_empty_mob_ids=True)
    p, r = run_import(home, path)
    assert p.returncode == 0, p.stderr
    ids = asset_ids(home)
    assert [(e["event"], e["asset_id"], e["matched_by"], e["record_in"], e["record_out"], e["source_in"],
             e["source_out"]) for e in r["resolved"]] == [
        (1, ids["A001C003.mov"], "file-name", 0, 25, 0, 25),
        (2, ids["INTERVIEW_01.mov"], "file-name", 34, 59, 5, 30),
    ]
