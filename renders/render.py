"""One entry point for every kind of master: video, audio and still proxies with their QC."""

from __future__ import annotations

from pathlib import Path

from renders.audio import render_audio_proxy
from renders.errors import UnsupportedKind
from renders.flags import QcRules
from renders.outcome import ProxyResult
from renders.profile import RenderProfile
from renders.proxy import render_proxy
from renders.runner import ProgressCallback
from renders.settings import RendersSettings
from renders.source import ProxySource
from renders.still import render_still_proxy


def render_source(
    src: ProxySource,
    profile: RenderProfile,
    out_dir: Path,
    settings: RendersSettings,
    timeout_s: float | None = None,
    on_progress: ProgressCallback | None = None,
    rules: QcRules | None = None,
) -> ProxyResult:
    """Render the proxy `src.kind` calls for (see renders.proxy, renders.audio, renders.still)."""
    if src.kind == "video":
        return render_proxy(src, profile, out_dir, settings, timeout_s, on_progress, rules)
    if src.kind == "audio":
        return render_audio_proxy(src, profile, out_dir, settings, timeout_s, on_progress, rules)
    if src.kind == "still":
        return render_still_proxy(src, profile, out_dir, settings, timeout_s, on_progress, rules)
    raise UnsupportedKind(f"{src.asset_id}: no proxy for kind {src.kind!r}")
