"""One entry point for every kind of master: video, audio and still proxies with their QC."""

from __future__ import annotations

from pathlib import Path

from renders.audio import render_audio_proxy
from renders.outcome import ProxyResult
from renders.profile import RenderProfile
from renders.proxy import render_proxy
from renders.qc import QcRules
from renders.runner import ProgressCallback
from renders.source import ProxySource
from renders.still import render_still_proxy
from renders.tools import UnsupportedKind


def render_source(
    src: ProxySource,
    profile: RenderProfile,
    out_dir: Path,
    timeout_s: float | None = None,
    on_progress: ProgressCallback | None = None,
    rules: QcRules | None = None,
) -> ProxyResult:
    """Render the proxy `src.kind` calls for (see renders.proxy, renders.audio, renders.still)."""
    if src.kind == "video":
        return render_proxy(src, profile, out_dir, timeout_s, on_progress, rules)
    if src.kind == "audio":
        return render_audio_proxy(src, profile, out_dir, timeout_s, on_progress, rules)
    if src.kind == "still":
        return render_still_proxy(src, profile, out_dir, timeout_s, on_progress, rules)
    raise UnsupportedKind(f"{src.asset_id}: no proxy for kind {src.kind!r}")
