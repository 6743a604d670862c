"""Benchmark of the review cut: a string-out from proxies against one bare ffmpeg concat-filter pass.

    .venv/bin/python bench/cut.py [--minutes 28] [--scenes 14] [--cache /tmp/docfilm-bench-cut]

Makes (once, then cached) four proxy-like clips (960x540 H.264 at 25 fps, AAC, a keyframe a second, as
renders makes proxies), then a string-out of `--minutes` over `--scenes` scenes: per scene a 2 s title card
and takes of 10 s cut from the clips at varying points. Prints, from this one run:

(a) docfilm's render of it (renders.cut's segments, the stream-copy join with chapters, the loudness pass and
    the poster), as a multiple of real time, against one bare ffmpeg pass with the concat filter over the same
    events (same seek, trims, burn-ins and encoder settings, no segments, no QC): the ratio bare / docfilm.
    Goal ≥ 4× real time on 2 cores.
(b) after one shot changes (same length): the re-render's time against full / n + the join. Goal ≤ 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import ffmpeg
import imageio_ffmpeg
import opentimelineio as otio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from editorial.assemble import title_card  # noqa: E402
from editorial.catalog import AssetRef  # noqa: E402
from editorial.review import _pieces, render_review_cut  # noqa: E402
from editorial.segments import CutPlan, ProxyRef, plan_cut  # noqa: E402
from editorial.versions import METADATA_KEY  # noqa: E402
from renders.cut import piece_streams  # noqa: E402
from renders.profile import RenderProfile  # noqa: E402
from renders.runner import run_ffmpeg, temp_path  # noqa: E402
from renders.settings import RendersSettings  # noqa: E402
from renders.tools import font_file  # noqa: E402
from storyboard.loader import bundled_film_path, load_film  # noqa: E402

FPS = Fraction(25)
CLIP_SECONDS = 120
TAKE_SECONDS = 10


def make_clips(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for i in range(4):
        path = folder / f"clip{i}.mp4"
        if not path.is_file():
            subprocess.run(
                [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                 "-f", "lavfi", "-i", f"testsrc2=size=960x540:rate=25,hue=h={i * 80}",
                 "-f", "lavfi", "-i", f"sine=frequency={300 + 100 * i}:sample_rate=48000",
                 "-t", str(CLIP_SECONDS), "-c:v", "libx264", "-preset", "veryfast", "-crf", "26", "-g", "25",
                 "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", str(path)],
                check=True,
            )  # fmt: skip
        clips.append(path)
    return clips


def string_out(clips: list[Path], minutes: float, scenes: int, shift: int = 0) -> tuple[otio.schema.Timeline,
                                                                                        dict, dict]:
    film = load_film(bundled_film_path())
    assets = {f"clip{i}": AssetRef(f"clip{i}", p.name, str(p), FPS, CLIP_SECONDS * 25, "10:00:00:00", None, None,
                                   None, datetime.now(UTC), True) for i, p in enumerate(clips)}
    proxies = {k: ProxyRef(Path(a.path), FPS, True) for k, a in assets.items()}
    timeline = otio.schema.Timeline(name="bench")
    timeline.global_start_time = otio.opentime.RationalTime(25 * 3600, 25)
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    per_scene = round(minutes * 60 / scenes / TAKE_SECONDS)
    n = 0
    for s in range(scenes):
        scene = film.scenes[s % len(film.scenes)]
        sid = f"S{s + 1:02d}"
        track.append(title_card(scene.model_copy(update={"id": sid}), 50, FPS))
        for _ in range(per_scene):
            asset = assets[f"clip{n % 4}"]
            first = (n * 37 + (shift if (s, n) == (0, 1) else 0)) % (CLIP_SECONDS * 25 - TAKE_SECONDS * 25)
            rng = otio.opentime.TimeRange(otio.opentime.RationalTime(10 * 3600 * 25 + first, 25),
                                          otio.opentime.RationalTime(TAKE_SECONDS * 25, 25))
            clip = otio.schema.Clip(name=asset.name, source_range=rng)
            clip.metadata[METADATA_KEY] = {"kind": "take", "asset_id": asset.asset_id, "scene": sid}
            track.append(clip)
            n += 1
    return timeline, assets, proxies


def plan(timeline: otio.schema.Timeline, assets: dict, proxies: dict) -> CutPlan:
    return plan_cut(timeline, "bench", FPS, assets, {k: k for k in assets}, proxies, "bench")


def bare(p: CutPlan, out: Path) -> float:
    """Every event through one concat filter and one encode, as a user would write it by hand."""
    profile = RenderProfile()
    font = font_file(RendersSettings())
    parts = []
    index = 0
    for seg in p.segments:
        for piece in _pieces(seg):
            parts.extend(piece_streams(piece, p.fps, profile, font, index))
            index += 1
    joined = ffmpeg.concat(*parts, v=1, a=1, n=index).node
    graph = ffmpeg.output(joined[0], joined[1], str(temp_path(out)), f="mp4",
                          **{"c:v": "libx264", "preset": profile.preset, "crf": profile.crf, "g": 25,
                             "c:a": "aac", "movflags": "+faststart"})
    started = time.monotonic()
    run_ffmpeg(graph.compile(cmd=imageio_ffmpeg.get_ffmpeg_exe()), [(temp_path(out), out)])
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=28.0)
    parser.add_argument("--scenes", type=int, default=14)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "docfilm-bench-cut")
    args = parser.parse_args()
    clips = make_clips(args.cache / "clips")
    film = load_film(bundled_film_path())
    with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
        home = Path(tmp)
        timeline, assets, proxies = string_out(clips, args.minutes, args.scenes)
        p = plan(timeline, assets, proxies)
        runtime = float(p.frames / p.fps)
        started = time.monotonic()
        full_cut = render_review_cut(p, film, RenderProfile(), RendersSettings(), home)
        full = time.monotonic() - started
        bare_s = bare(p, home / "bare.mp4")
        print(f"string-out: {runtime / 60:.1f} min, {len(p.segments)} scenes, {p.events} takes")
        print(f"(a) docfilm cut render: {full:.1f} s = {runtime / full:.1f}x real time; "
              f"bare concat-filter pass: {bare_s:.1f} s = {runtime / bare_s:.1f}x; ratio bare/docfilm "
              f"{bare_s / full:.2f}")
        timeline, assets, proxies = string_out(clips, args.minutes, args.scenes, shift=100)
        started = time.monotonic()
        again = render_review_cut(plan(timeline, assets, proxies), film, RenderProfile(), RendersSettings(), home)
        one = time.monotonic() - started
        redone = sum(s.rendered for s in again.segments)
        per_scene = full_cut.segments_s / len(p.segments)
        print(f"(b) one shot changed: {redone} segment(s) rendered in {again.segments_s:.1f} s against full/n = "
              f"{per_scene:.1f} s (ratio {again.segments_s / per_scene:.2f}), then join, loudness and poster "
              f"{again.elapsed_s - again.segments_s:.1f} s; {one:.1f} s in all")


if __name__ == "__main__":
    main()
