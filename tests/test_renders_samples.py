"""Real camera, phone and broken files (tests/fixtures/samples): every decodable one gets its proxy.

Each sample is probed as ingest probes it and turned into a render source by the flows' own mapping, so this
is what `docfilm render` does to them, without the ledger and Prefect around it.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import pytest
from probe_support import asset_for

from assets_manifest.probe import ProbeFailed, probe
from assets_manifest.store import Asset
from flows.steps import proxy_source
from renders.errors import FfmpegFailed
from renders.profile import RenderProfile
from renders.render import render_source
from renders.settings import RendersSettings
from renders.tools import ffmpeg_exe

pytestmark = pytest.mark.slow

SETTINGS = RendersSettings()  # read once, as a command does


SAMPLES = Path(__file__).parent / "fixtures" / "samples"
MEDIA = sorted(p for p in SAMPLES.iterdir() if p.suffix not in (".md", ".tsv"))
BROKEN = {"malformed_free_box_moov_not_found.mp4", "ftyp_only_fixture-isomv2.mp4"}
FILM_RATE = Fraction(25)  # the rate audio and stills are counted at, as the bundled film's


def decode_errors(path: Path) -> str:
    done = subprocess.run([ffmpeg_exe(SETTINGS), "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    return done.stderr.strip() if done.returncode == 0 else f"exit {done.returncode}: {done.stderr}"


def picture_box(path: Path) -> tuple[int, int]:
    """(width, height) of the lit picture inside the padded proxy frame, from its first frame.

    Only the middle band of rows and columns is searched: the burnt-in name and timecode sit in the bars.
    """
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0)).reformat(format="gray")
    plane = frame.planes[0]
    data = bytes(plane)
    rows = [data[y * plane.line_size : y * plane.line_size + frame.width] for y in range(frame.height)]
    middle_rows = range(frame.height * 3 // 8, frame.height * 5 // 8, 4)
    lit_cols = [x for x in range(frame.width) if any(rows[y][x] > 24 for y in middle_rows)]
    middle_cols = range(frame.width * 3 // 8, frame.width * 5 // 8, 4)
    lit_rows = [y for y in range(frame.height) if any(rows[y][x] > 24 for x in middle_cols)]
    return lit_cols[-1] - lit_cols[0] + 1, lit_rows[-1] - lit_rows[0] + 1


@pytest.mark.parametrize("path", [p for p in MEDIA if p.name not in BROKEN], ids=lambda p: p.name)
def test_every_decodable_sample_gets_its_proxy(path: Path, tmp_path: Path) -> None:
    asset = asset_for(path, FILM_RATE)
    src = proxy_source(asset, FILM_RATE)
    result = render_source(src, RenderProfile(), tmp_path, SETTINGS, timeout_s=300)
    assert decode_errors(result.proxy) == ""
    if asset.kind == "video":
        assert asset.fps_num and asset.fps_den and asset.width and asset.height
        with av.open(str(result.proxy)) as container:
            video = container.streams.video[0]
            timecode = next((s.metadata["timecode"] for s in container.streams if "timecode" in s.metadata), None)
            assert video.average_rate is not None
            assert Fraction(video.average_rate) == src.proxy_fps  # the source's, up to 60 fps
        assert timecode == (asset.start_timecode or "00:00:00:00")
        assert (result.qc.facts.width, result.qc.facts.height, result.qc.facts.rotation) == (960, 540, 0)
        display_w, display_h = (asset.height, asset.width) if asset.rotation % 180 else (asset.width, asset.height)
        box_w, box_h = picture_box(result.proxy)
        if display_h > display_w:
            assert box_h > box_w, f"{path.name}: portrait source shown {box_w}x{box_h}"  # upright
        assert result.contact_sheet is not None and result.contact_sheet.is_file()
        if asset.probe.get("hdr"):
            assert result.qc.tone_mapped_from is not None
    elif asset.kind == "audio":
        assert result.proxy.suffix == ".m4a" and result.qc.measured.loudness is not None
    else:
        assert asset.kind == "still" and result.proxy.name.endswith(".proxy.jpg")
    assert result.poster.is_file()


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_samples_fail_with_ffmpegs_reason(name: str, tmp_path: Path) -> None:
    path = SAMPLES / name
    with pytest.raises(ProbeFailed):
        probe(path)  # ingest quarantines them; were one rendered anyway, ffmpeg's reason is kept
    asset = Asset(asset_id="broken", name=name, path=str(path), kind="video", fps_num=25, fps_den=1, width=320,
                  height=180, rotation=0, field_order="progressive", duration_frames=25, audio_tracks=1,
                  start_timecode=None, probe={"hdr": None})  # fmt: skip
    with pytest.raises(FfmpegFailed) as caught:
        render_source(proxy_source(asset, FILM_RATE), RenderProfile(), tmp_path, SETTINGS, timeout_s=60)
    assert "moov atom not found" in caught.value.stderr_tail
    assert list(tmp_path.iterdir()) == []
