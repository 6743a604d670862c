"""Benchmark of the review cut: a string-out from proxies against one bare ffmpeg concat-filter pass.

    .venv/bin/python bench/cut.py [--quick] [--minutes 28] [--scenes 14] [--cache /tmp/docfilm-bench-cut]

Makes (once, then cached) four proxy-like clips (960x540 H.264 at 25 fps, AAC, a keyframe a second, as
renders makes proxies), then a string-out of `--minutes` over `--scenes` scenes: per scene a 2 s title card,
takes of 10 s cut from the clips at varying points and a slate of 20 s for a shot not yet filmed. `--quick`
(under 3 minutes on 2 cores): 3 minutes over 4 scenes from 30 s clips. Prints, from this one run:

(a) docfilm's render of it (renders.cut's segments, the stream-copy join with chapters, the loudness pass and
    the poster), as a multiple of real time, against one bare ffmpeg pass with the concat filter over the same
    events (same seek, trims, burn-ins and encoder settings, no segments, no QC): the ratio bare / docfilm.
    Goal ≥ 4× real time on 2 cores.
(b) after one shot changes (same length): the re-render's time against full / n + the join. Goal ≤ 1.
(c) `cut import` of a 1,500-event CMX 3600 EDL (Avid style: clip names, reels, some events by source timecode
    alone) conformed against a ledger of 10,000 video assets (generated in SQLite): reading the EDL, loading the
    ledger's assets, conforming and saving the version, against the EDL read alone by OpenTimelineIO. Goal ≤ 2 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg
import imageio_ffmpeg
import opentimelineio as otio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from editorial.assemble import slate, title_card  # noqa: E402
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
TAKE_SECONDS = 10
SLATE_SECONDS = 20
CLIP_SECONDS = 120  # --quick: 30


def make_clips(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for i in range(4):
        path = folder / f"clip{i}-{CLIP_SECONDS}s.mp4"
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
    per_scene = max(1, round((minutes * 60 / scenes - 2 - SLATE_SECONDS) / TAKE_SECONDS))
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
        track.append(slate(sid, SLATE_SECONDS * 25, FPS, "no footage yet", shot=f"{sid}-99"))
    return timeline, assets, proxies


def plan(timeline: otio.schema.Timeline, assets: dict, proxies: dict) -> CutPlan:
    return plan_cut(timeline, "bench", FPS, assets, {k: k for k in assets}, proxies, "bench")


def bare(p: CutPlan, out: Path) -> None:
    """Every event through one concat filter and one encode, as a user would write it by hand."""
    profile = RenderProfile()
    font = font_file(RendersSettings())
    parts: list[Any] = []
    index = 0
    for seg in p.segments:
        for piece in _pieces(seg):
            parts.extend(piece_streams(piece, p.fps, profile, font, index))
            index += 1
    joined = ffmpeg.concat(*parts, v=1, a=1, n=index).node
    graph = ffmpeg.output(joined[0], joined[1], str(temp_path(out)), f="mp4",
                          **{"c:v": "libx264", "preset": profile.preset, "crf": profile.crf, "g": 25,
                             "c:a": "aac", "movflags": "+faststart"})
    run_ffmpeg(graph.compile(cmd=imageio_ffmpeg.get_ffmpeg_exe()), [(temp_path(out), out)])


def conform_bench(folder: Path, events: int = 1500, assets: int = 10_000) -> tuple[float, float, int]:
    """(seconds for read + ledger assets + conform + save, seconds for the EDL read alone, events conformed)."""
    from assets_manifest.ledger import Ledger
    from assets_manifest.settings import LedgerSettings
    from assets_manifest.store import Asset
    from editorial.catalog import video_assets
    from editorial.conform import conform
    from editorial.timelines import read_timeline
    from editorial.versions import file_sha256, save_cut

    home = folder / "home"
    ledger = Ledger.open(LedgerSettings(home=home))
    clock_start = 3600 * 25  # asset i: 100 frames from 01:00:00:00 + 100 i, so every span is its own
    with ledger.session(write=True) as s:
        for i in range(assets):
            tc = otio.opentime.to_timecode(otio.opentime.RationalTime(clock_start + 100 * i, 25), 25)
            s.add(Asset(asset_id=f"{i:032x}", sha256=f"{i:064x}", xxh128=f"{i:032x}", size=1, name=f"A{i:05d}C001.mov",
                        path=f"/library/A{i:05d}C001.mov", path_bytes=b"", kind="video", container="mov",
                        video_codec="prores", width=1920, height=1080, fps_num=25, fps_den=1, duration_frames=100,
                        start_timecode=tc, scene_id=f"S{i % 14 + 1:02d}", shot_id=None, probe={}))
    lines = ["TITLE: bench", "FCM: NON-DROP FRAME", ""]
    record = 3600 * 25
    for n in range(1, events + 1):
        i = (n * 7919) % assets
        src_in = clock_start + 100 * i + 10
        rec = otio.opentime.to_timecode
        how = n % 10
        reel = f"A{i:05d}C0"[:8] if how == 1 else "AX"
        lines.append(f"{n:03d}  {reel:<8} V     C        {rec(otio.opentime.RationalTime(src_in, 25), 25)} "
                     f"{rec(otio.opentime.RationalTime(src_in + 50, 25), 25)} "
                     f"{rec(otio.opentime.RationalTime(record, 25), 25)} "
                     f"{rec(otio.opentime.RationalTime(record + 50, 25), 25)}")
        if how >= 2:  # most by clip name; one in ten by reel, one in ten by source timecode alone
            lines.append(f"* FROM CLIP NAME: A{i:05d}C001")
        record += 50
    edl = folder / "bench.edl"
    edl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.process_time()
    read_timeline(edl, FPS)
    read_only = time.process_time() - started
    started = time.process_time()
    timeline = read_timeline(edl, FPS)
    result = conform(timeline, video_assets(ledger), "bench", str(edl), FPS)
    save_cut(result.timeline, ledger, home, "bench", "imported", source=edl, source_sha256=file_sha256(edl))
    whole = time.process_time() - started
    ledger.close()
    return whole, read_only, len(result.resolved)


class Clocks:
    """Wall time and CPU time (this process and the ffmpeg it ran) of a block: on a machine shared with other
    work the CPU seconds are the fair comparison, wall time the user's."""

    def __enter__(self) -> Clocks:
        self.wall, self.cpu = time.monotonic(), self._cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.monotonic() - self.wall, self._cpu() - self.cpu

    @staticmethod
    def _cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 minutes over 4 scenes from 30 s clips")
    parser.add_argument("--minutes", type=float, default=None, help="string-out length (default 28; 3 with --quick)")
    parser.add_argument("--scenes", type=int, default=None, help="scenes (default 14; 4 with --quick)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "docfilm-bench-cut")
    args = parser.parse_args()
    global CLIP_SECONDS
    if args.quick:
        CLIP_SECONDS = 30
    args.minutes = args.minutes or (3.0 if args.quick else 28.0)
    args.scenes = args.scenes or (4 if args.quick else 14)
    args.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
        whole, read_only, conformed = conform_bench(Path(tmp))
        print(f"(c) cut import of a 1,500-event EDL against 10,000 assets: {whole:.2f} s of CPU ({conformed} conformed;"
              f" goal ≤ 2 s); the EDL read alone by OpenTimelineIO {read_only:.2f} s, ratio {whole / read_only:.1f}")
    clips = make_clips(args.cache / "clips")
    film = load_film(bundled_film_path())
    with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
        home = Path(tmp)
        timeline, assets, proxies = string_out(clips, args.minutes, args.scenes)
        p = plan(timeline, assets, proxies)
        runtime = float(p.frames / p.fps)
        with Clocks() as full:
            render_review_cut(p, film, RenderProfile(), RendersSettings(), home)
        with Clocks() as bare_run:
            bare(p, home / "bare.mp4")
        cores = os.cpu_count() or 2
        print(f"string-out: {runtime / 60:.1f} min, {len(p.segments)} scenes, {p.events} takes; load average "
              f"{os.getloadavg()[0]:.1f} on {cores} cores")
        print(f"(a) docfilm cut render: {full.wall:.1f} s = {runtime / full.wall:.1f}x real time "
              f"({full.cpu:.1f} s of CPU = {runtime * cores / full.cpu:.1f}x real time on {cores} idle cores); bare "
              f"concat-filter pass: {bare_run.wall:.1f} s = {runtime / bare_run.wall:.1f}x ({bare_run.cpu:.1f} s of "
              f"CPU); ratio bare/docfilm {bare_run.wall / full.wall:.2f} wall, {bare_run.cpu / full.cpu:.2f} CPU "
              "(goal: ≥ 4x real time)")
        timeline, assets, proxies = string_out(clips, args.minutes, args.scenes, shift=100)
        with Clocks() as one:
            again = render_review_cut(plan(timeline, assets, proxies), film, RenderProfile(), RendersSettings(),
                                      home)
        redone = sum(s.rendered for s in again.segments)
        n = len(p.segments)
        join = again.elapsed_s - again.segments_s
        print(f"(b) one shot changed: {redone} segment(s) rendered; {one.wall:.1f} s ({one.cpu:.1f} s of CPU) in all, "
              f"of which join, loudness and poster {join:.1f} s, against full/n + join = "
              f"{full.wall / n + join:.1f} s: ratio {one.wall / (full.wall / n + join):.2f} wall, "
              f"{one.cpu / (full.cpu / n + join):.2f} CPU (goal ≤ 1)")


if __name__ == "__main__":
    main()
