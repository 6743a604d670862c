"""The one pass with one change at a time: what each candidate cut saves, and what it does to the proxy.

    .venv/bin/python bench/render_variants.py [--seconds 10] [--repeat 3] [--cache /tmp/docfilm-bench]

On bench/render.py's clips (made once and cached there), runs the one pass (proxy, poster, contact sheet, QC)
bare, clip by clip, as the profile makes it and then with one change each: a profile field (scaler, x264
settings, deinterlacer) or an ffmpeg flag (threads). Prints, per variant, the CPU and wall time against the
profile's own pass from the same run (least disturbed of `--repeat`), the proxy's size, and its SSIM against
a reference proxy made by the same graph with lanczos scaling and x264 at crf 12 (the profile's own SSIM is
printed too). A cut is only worth taking where the SSIM stays at the profile's level; bench/HISTORY.md
(render) says which were measured and why none was taken.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from render import Cost, cheapest, make_clips, run_bare
from render_commands import SETTINGS, Clip, ledger_clips, one_pass

from renders.profile import RenderProfile
from renders.tools import ffmpeg_exe

DEFAULT = RenderProfile()
REFERENCE = DEFAULT.model_copy(update={"scale_flags": "lanczos", "crf": 12, "x264_params": ""})
# name, profile changes, extra ffmpeg flags put before the first output's options
VARIANTS: list[tuple[str, dict[str, object], list[str]]] = [
    ("scale flags area", {"scale_flags": "area"}, []),
    ("scale flags bilinear", {"scale_flags": "bilinear"}, []),
    ("deinterlace yadif", {"deinterlace_filter": "yadif"}, []),
    ("x264 bframes 0", {"x264_params": f"{DEFAULT.x264_params}:bframes=0"}, []),
    ("x264 sliced threads", {"x264_params": f"{DEFAULT.x264_params}:sliced-threads=1"}, []),
    ("x264 threads 2", {"x264_params": f"{DEFAULT.x264_params}:threads=2"}, []),
    ("x264 rc-lookahead 0, no mbtree", {"x264_params": f"{DEFAULT.x264_params}:rc-lookahead=0:mbtree=0"}, []),
    ("filter graph on one thread", {}, ["-filter_complex_threads", "1"]),
]


def with_flags(argv: list[str], flags: list[str]) -> list[str]:
    """`flags` inserted before -filter_complex (global options)."""
    if not flags:
        return argv
    at = argv.index("-filter_complex")
    return [*argv[:at], *flags, *argv[at:]]


def ssim(proxy: Path, reference: Path) -> float:
    """SSIM (all planes) of `proxy` against `reference`, frame by frame."""
    done = subprocess.run(
        [ffmpeg_exe(SETTINGS), "-nostdin", "-hide_banner", "-i", str(proxy), "-i", str(reference),
         "-lavfi", "[0:v][1:v]ssim", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.findall(r"All:([0-9.]+)", done.stderr)
    if not found:
        raise SystemExit(f"no SSIM for {proxy}:\n{done.stderr[-2000:]}")
    return float(found[-1])


def run_variant(clip: Clip, profile: RenderProfile, flags: list[str], out: Path, repeat: int) -> tuple[Cost, Path]:
    """The one pass with `profile` and `flags`; its cost and the proxy it left (renamed to stay)."""
    argv = with_flags(one_pass(clip, profile, out), flags)
    cost = cheapest([run_bare(argv) for _ in range(repeat)])
    made = out / f".{clip.src.asset_id}.tmp.mp4"
    kept = out / f"{clip.src.asset_id}-{len(list(out.glob('*.kept.mp4')))}.kept.mp4"
    made.rename(kept)
    return cost, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each bench clip")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each pass; the least disturbed is kept")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "docfilm-bench")
    opts = parser.parse_args()

    from assets_manifest.ingest import ingest
    from assets_manifest.ledger import Ledger
    from assets_manifest.settings import LedgerSettings

    paths = make_clips(opts.cache / f"clips-{opts.seconds:g}s", opts.seconds)
    with tempfile.TemporaryDirectory(prefix="docfilm-variants-") as tmp:
        work = Path(tmp)
        ledger = Ledger.open(LedgerSettings(home=work / "home"))
        try:
            ingest(paths, ledger, scene_ids=set(), library=None)
        finally:
            ledger.close()
        clips = ledger_clips(work / "home")
        print(f"CPU s / wall s of the one pass, least disturbed of {opts.repeat}; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for clip in clips:
            out = work / clip.src.asset_id
            out.mkdir()
            _cost, reference = run_variant(clip, REFERENCE, [], out, 1)
            base, own = run_variant(clip, DEFAULT, [], out, opts.repeat)
            print(f"{clip.src.display_name[:28]:<28} {'the profile':<32} CPU {base.cpu:6.2f} wall {base.wall:6.2f} "
                  f"proxy {own.stat().st_size / 1e3:7.0f} kB SSIM {ssim(own, reference):.4f}")
            for name, changes, flags in VARIANTS:
                if name.startswith("deinterlace") and not clip.src.interlaced:
                    continue
                cost, proxy = run_variant(clip, DEFAULT.model_copy(update=changes), flags, out, opts.repeat)
                print(f"{clip.src.display_name[:28]:<28} {name:<32} CPU {cost.cpu - base.cpu:+6.2f} wall "
                      f"{cost.wall - base.wall:+6.2f} proxy {proxy.stat().st_size / own.stat().st_size - 1:+6.1%} "
                      f"SSIM {ssim(proxy, reference):.4f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
