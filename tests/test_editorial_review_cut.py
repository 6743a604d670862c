"""The review cut from proxies: frame-exact at every cut point (25, 29.97 DF, 23.976), incremental per scene.

The proxies are generated here: each frame shows its own frame number as 11 bit stripes across the middle of
the picture, which the test reads back from the rendered cut with PyAV.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import opentimelineio as otio
import pytest
from cut_support import make_numbered, read_numbers

from core.timecode import Clock
from editorial.assemble import slate, title_card
from editorial.catalog import AssetRef
from editorial.review import render_review_cut
from editorial.segments import CutPlan, MissingProxies, ProxyRef, plan_cut
from editorial.versions import METADATA_KEY
from renders.profile import RenderProfile
from renders.settings import RendersSettings
from storyboard.loader import bundled_film_path, load_film


def take(asset: AssetRef, first: int, frames: int, scene: str, rate: Fraction) -> otio.schema.Clip:
    clock = asset.clock()
    assert clock is not None
    origin = clock.count(0) or 0
    rng = otio.opentime.TimeRange(otio.opentime.RationalTime(origin + first, float(rate)),
                                  otio.opentime.RationalTime(frames, float(rate)))
    clip = otio.schema.Clip(name=Path(asset.name).stem, source_range=rng)
    clip.metadata[METADATA_KEY] = {"kind": "take", "asset_id": asset.asset_id, "scene": scene}
    return clip


CASES = {
    "25": (Fraction(25), "01:00:00:00", "10:00:00:00"),
    "29.97DF": (Fraction(30000, 1001), "00:59:53;11", "01:00:00;00"),
    "23.976": (Fraction(24000, 1001), "00:59:53:11", "00:00:00:00"),
}

# (scene, kind, source asset, first source frame, frames); kind: take, title, slate, gap
EVENTS = [
    ("S01", "title", None, 0, 7),
    ("S01", "take", "A", 7, 12),
    ("S01", "take", "B", 30, 9),
    ("S01", "gap", None, 0, 5),
    ("S02", "take", "A", 50, 8),
    ("S02", "take", "B", 0, 6),
    ("S03", "slate", None, 0, 4),
    ("S03", "take", "A", 61, 11),
]


def build(root: Path, rate: Fraction, record_start: str, source_start: str,
          events: list[tuple[str, str, str | None, int, int]]) -> tuple[otio.schema.Timeline, dict, dict]:
    assets: dict[str, AssetRef] = {}
    proxies: dict[str, ProxyRef] = {}
    for name, tone in (("A", 440), ("B", None)):
        path = root / f"{name}.mp4"
        if not path.is_file():
            make_numbered(path, rate, 120, tone)
        assets[name] = AssetRef(asset_id=f"asset{name}", name=f"{name}.mov", path=str(path), fps=rate, frames=120,
                                start_timecode=source_start, scene_id=None, shot_id=None, reel=None,
                                ingested_at=datetime.now(UTC), qc_clean=True)
        proxies[f"asset{name}"] = ProxyRef(path, rate, tone is not None)
    timeline = otio.schema.Timeline(name="test")
    clock = Clock(rate, record_start)
    timeline.global_start_time = otio.opentime.RationalTime(clock.count(0) or 0, float(rate))
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    film = load_film(bundled_film_path())
    scenes = {s.id: s for s in film.scenes}
    for scene, kind, source, first, frames in events:
        if kind == "take":
            assert source is not None
            track.append(take(assets[source], first, frames, scene, rate))
        elif kind == "title":
            track.append(title_card(scenes[scene], frames, rate))
        elif kind == "slate":
            track.append(slate(scene, frames, rate, "no footage yet"))
        else:
            track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, float(rate)), otio.opentime.RationalTime(frames, float(rate)))))
    by_id = {a.asset_id: a for a in assets.values()}
    return timeline, by_id, proxies


def plan_for(timeline: otio.schema.Timeline, assets: dict, proxies: dict, rate: Fraction) -> CutPlan:
    return plan_cut(timeline, "can-tho-xiv", rate, assets, {k: f"sha-{k}" for k in assets}, proxies, "profile")


@pytest.mark.parametrize("case", list(CASES))
def test_every_cut_point_shows_the_planned_source_frame(tmp_path: Path, case: str) -> None:
    rate, record_start, source_start = CASES[case]
    timeline, assets, proxies = build(tmp_path, rate, record_start, source_start, EVENTS)
    plan = plan_for(timeline, assets, proxies, rate)
    assert plan.start_timecode == record_start
    assert [s.scene for s in plan.segments] == ["S01", "S02", "S03"]
    film = load_film(bundled_film_path())
    cut = render_review_cut(plan, film, RenderProfile(), RendersSettings(), tmp_path / "home")
    numbers = read_numbers(cut.path)
    assert len(numbers) == plan.frames == sum(e[4] for e in EVENTS)
    record = 0
    checked = 0
    for _scene, kind, _name, first, frames in EVENTS:
        if kind == "take":
            for r in (0, frames - 1):  # cut in, cut out
                assert numbers[record + r] == first + r, (case, record + r)
                checked += 1
            assert numbers[record:record + frames] == list(range(first, first + frames))
        record += frames
    assert checked == 10
    with av.open(str(cut.path)) as container:
        assert container.streams.video[0].average_rate == rate
        assert len(container.streams.audio) == 1
        chapters = container.chapters()
        assert [c["metadata"]["title"] for c in chapters] == [
            f"{s.id} {s.title.vi} / {s.title.en}" for s in film.scenes[:3]]
    assert cut.qc.loudness.integrated_lufs is not None and cut.qc.runtime_ok is True
    # a 440 Hz sine at ffmpeg's default level, silence elsewhere: not at -23 LUFS
    assert [f.rule for f in cut.qc.flags][:1] == ["loudness"]
    assert set(cut.qc.to_json()) >= {"flags", "loudness", "runtime_seconds", "target_seconds", "runtime_ok"}
    assert cut.chapters.read_text(encoding="utf-8").startswith("WEBVTT")
    assert film.scenes[0].narration.en.split()[0] in cut.subtitles["en"].read_text(encoding="utf-8")
    assert cut.poster.is_file()


def test_changing_one_shot_renders_only_its_scene(tmp_path: Path) -> None:
    rate, record_start, source_start = CASES["25"]
    home = tmp_path / "home"
    film = load_film(bundled_film_path())
    timeline, assets, proxies = build(tmp_path, rate, record_start, source_start, EVENTS)
    first = render_review_cut(plan_for(timeline, assets, proxies, rate), film, RenderProfile(), RendersSettings(),
                              home)
    assert [s.rendered for s in first.segments] == [True, True, True]
    before = first.path.read_bytes()
    again = render_review_cut(plan_for(timeline, assets, proxies, rate), film, RenderProfile(), RendersSettings(),
                              home)
    assert [s.rendered for s in again.segments] == [False, False, False]
    assert again.path.read_bytes() == before
    changed = list(EVENTS)
    changed[4] = ("S02", "take", "B", 70, 8)  # another take, same length
    timeline, assets, proxies = build(tmp_path, rate, record_start, source_start, changed)
    third = render_review_cut(plan_for(timeline, assets, proxies, rate), film, RenderProfile(), RendersSettings(),
                              home)
    assert [(s.scene, s.rendered) for s in third.segments] == [("S01", False), ("S02", True), ("S03", False)]
    numbers = read_numbers(third.path)
    assert numbers[33:41] == list(range(70, 78))


def test_takes_without_a_proxy_are_listed(tmp_path: Path) -> None:
    rate, record_start, source_start = CASES["25"]
    timeline, assets, proxies = build(tmp_path, rate, record_start, source_start, EVENTS)
    with pytest.raises(MissingProxies, match="B.mov"):
        plan_for(timeline, assets, {"assetA": proxies["assetA"]}, rate)


def test_segment_graph_keeps_identical_pieces_apart(tmp_path: Path) -> None:
    from renders.cut import CutPiece, concat_list, segment_stream

    gap = CutPiece(kind="black", frames=5, name="gap")
    args = segment_stream([gap, gap, gap], Fraction(25), "01:00:00:00", RenderProfile(), Path("/font.ttf"),
                          tmp_path / "seg.mp4").get_args()
    assert args.count("-i") == 6  # a picture and a sound input each
    graph = args[args.index("-filter_complex") + 1]
    assert "concat=a=1:n=3:v=1" in graph and "timecode=01\\\\:00\\\\:00\\\\:00:" in graph
    assert args[args.index("-g") + 1] == "25" and args[args.index("-sc_threshold") + 1] == "0"
    assert concat_list([(Path("/a b/x'y.mp4"), Fraction(1, 5))]).splitlines()[1:] == [
        "file '/a b/x'\\''y.mp4'", "duration 0.200000"]


@pytest.mark.parametrize(("source_rate", "timeline_rate"), [
    (Fraction(25), Fraction(24000, 1001)), (Fraction(24000, 1001), Fraction(25)), (Fraction(50), Fraction(25)),
])
def test_a_clip_at_another_rate_holds_each_source_frame_for_its_duration(
    tmp_path: Path, source_rate: Fraction, timeline_rate: Fraction
) -> None:
    timeline, assets, proxies = build(tmp_path, source_rate, "01:00:00:00", "00:00:00:00",
                                      [("S01", "take", "A", 10, 30)])
    timeline.global_start_time = otio.opentime.RationalTime(0, float(timeline_rate))
    plan = plan_for(timeline, assets, proxies, timeline_rate)
    cut = render_review_cut(plan, load_film(bundled_film_path()), RenderProfile(), RendersSettings(),
                            tmp_path / "home")
    numbers = read_numbers(cut.path)
    # record frame r shows the source frame on screen at that moment: the last one to start at or before it
    assert numbers == [10 + (r * source_rate / timeline_rate).__floor__() for r in range(plan.frames)]


def test_long_cards_are_encoded_once_and_repeated_frame_exact(tmp_path: Path) -> None:
    """A slate of 2 GOPs and 3 frames is one GOP-long unit twice plus a 3-frame unit, joined by stream copy: the
    takes around it keep their exact frames and the sound stays as long as the pictures."""
    rate, record_start, source_start = CASES["25"]
    events = [("S01", "take", "A", 7, 12), ("S01", "slate", None, 0, 53), ("S01", "take", "A", 40, 10)]
    timeline, assets, proxies = build(tmp_path, rate, record_start, source_start, events)
    plan = plan_for(timeline, assets, proxies, rate)
    home = tmp_path / "home"
    cut = render_review_cut(plan, load_film(bundled_film_path()), RenderProfile(), RendersSettings(), home)
    numbers = read_numbers(cut.path)
    assert len(numbers) == 75
    assert numbers[:12] == list(range(7, 19)) and numbers[65:] == list(range(40, 50))
    assert set(numbers[12:65]) == {0}  # black, its text in the middle rows only
    units = sorted((home / "cuts" / "can-tho-xiv" / "review" / "segments" / "units").iterdir())
    with av.open(str(units[0])) as a, av.open(str(units[1])) as b:
        assert sorted([a.streams.video[0].frames, b.streams.video[0].frames]) == [3, 25]
    with av.open(str(cut.path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.frames == 75
        seconds = float(audio.duration * audio.time_base)
        assert abs(seconds - 3.0) < 0.05, seconds
    # the cut's loudness is measured over the takes' sound only: the slate is digital silence
    assert cut.qc.loudness.integrated_lufs > -70
