"""Picture branches shared by every kind: fit and pad to the profile frame, HDR tone mapping, poster, contact sheet."""

from __future__ import annotations

import math
from typing import Any

from core.timecode import rate_text
from renders.profile import RenderProfile
from renders.source import ProxySource

# Linear light 1.0 is 100 cd/m² (SDR reference white) before the tone curve squeezes highlights.
HDR_NOMINAL_PEAK = 100


def at_proxy_rate(stream: Any, src: ProxySource, profile: RenderProfile) -> Any:
    """The decoded picture deinterlaced when the source is interlaced (one frame per frame, the profile's
    filter), then at the proxy's constant rate: the start of every branch of the one pass."""
    if src.interlaced:
        stream = stream.filter(profile.deinterlace_filter, mode="send_frame", parity="auto", deint="all")
    return stream.filter("fps", fps=rate_text(src.proxy_fps))


def tone_map_to_sdr(stream: Any, profile: RenderProfile) -> Any:
    """HDR (PQ or HLG, BT.2020) to SDR BT.709 limited range: linearise, convert primaries, tone curve, re-encode.

    Without this an HDR picture shown as SDR looks grey and washed out (measured on a BT.2020 HLG test
    pattern: 38 % of the saturation left, against 80 % with mobius).
    """
    return (
        stream.filter("zscale", t="linear", npl=HDR_NOMINAL_PEAK)
        .filter("format", "gbrpf32le")
        .filter("zscale", p="bt709")
        .filter("tonemap", tonemap=profile.tone_map, desat=0)
        .filter("zscale", t="bt709", m="bt709", r="tv")
    )


def fit_inside(stream: Any, profile: RenderProfile, *, hdr: bool = False) -> Any:
    """Scale to fit the profile frame by display aspect (SAR honoured), even sizes, square pixels."""
    w, h = profile.width, profile.height
    wider = f"gte(dar,{w}/{h})"
    stream = stream.filter(
        "scale",
        w=f"if({wider},{w},max(2,2*round({h}*dar/2)))",
        h=f"if({wider},max(2,2*round({w}/dar/2)),{h})",
        flags=profile.scale_flags,
    )
    if hdr:
        stream = tone_map_to_sdr(stream, profile)
    return stream.filter("format", profile.pix_fmt).filter("setsar", 1)


def pad_to_frame(stream: Any, profile: RenderProfile) -> Any:
    """Centre the fitted picture in the profile frame (letterbox or pillarbox)."""
    return stream.filter("pad", profile.width, profile.height, "(ow-iw)/2", "(oh-ih)/2", color="black")


def fit_to_frame(stream: Any, profile: RenderProfile, *, hdr: bool = False) -> Any:
    """Scale to fit the profile frame by display aspect, then pad to it."""
    return pad_to_frame(fit_inside(stream, profile, hdr=hdr), profile)


def poster_frame_index(src: ProxySource) -> int:
    """Frame of the proxy the poster shows: about 1 s in, or the middle of clips shorter than 2 s."""
    if src.proxy_frames <= 0:
        return 0
    return min(round(src.proxy_fps), src.proxy_frames // 2)


def contact_sheet_frames(src: ProxySource, cells: int) -> list[int]:
    """Frames of the proxy a contact sheet shows: the middles of `cells` equal parts of the clip, each once.

    A clip shorter than `cells` frames shows each of its frames once (the rest of the sheet stays black);
    a clip of unknown length shows one frame a second from the start.
    """
    if src.proxy_frames <= 0:
        return [i * max(1, round(src.proxy_fps)) for i in range(cells)]
    total = src.proxy_frames
    return sorted({min(total - 1, math.floor((2 * i + 1) * total / (2 * cells))) for i in range(cells)})


def poster_branch(stream: Any, src: ProxySource, profile: RenderProfile) -> Any:
    # image2 with update=1 rewrites the file for every frame, so the poster ends up as frame K, or the last
    # frame when the clip is shorter than its recorded duration (a select that never fires would fail
    # the whole run).
    return stream.filter("trim", end_frame=poster_frame_index(src) + 1).filter(
        "scale", profile.poster_width, profile.poster_height, flags=profile.scale_flags, out_range="full"
    )


def contact_sheet_branch(stream: Any, frames: list[int], profile: RenderProfile) -> Any:
    cell_w, cell_h = profile.contact_cell_size
    picked = "+".join(f"eq(n,{n})" for n in frames)
    return (
        stream.filter("select", picked)
        .filter("scale", cell_w, cell_h, flags=profile.scale_flags, out_range="full")
        # tile writes a partly filled sheet when the input ends early, so short clips still get one.
        .filter("tile", layout=f"{profile.contact_sheet_columns}x{profile.contact_sheet_rows}")
    )


def jpeg_options(profile: RenderProfile) -> dict[str, str | int]:
    return {"f": "image2", "c:v": "mjpeg", "q:v": profile.poster_quality, "update": 1}
