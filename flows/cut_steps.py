"""The cut's steps over a Workspace (no Prefect here): assemble the string-out, import the editor's timeline,
decide whether the review cut is stale, render it.

The `cut` commands and the cut flows (flows/cut_flows.py) share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from .results import CutAssembly, CutImport, CutRender, CutScene, CutStage, SegmentRun, Unresolved
from .workspace import Workspace


def assemble_step(ws: Workspace) -> CutAssembly:
    """The string-out saved as the current cut unless identical to it; the `cut assemble --json` report."""
    from editorial.assemble import assemble
    from editorial.catalog import video_assets
    from editorial.versions import save_cut

    settings = ws.settings.editorial
    assets = video_assets(ws.ledger, ws.profile.profile_hash())
    result = assemble(ws.film, assets, Fraction(str(settings.title_card_seconds)))
    version, new = save_cut(result.timeline, ws.ledger, ws.home, ws.film.film.id, "assembled")
    return CutAssembly(
        path=str(version.path), version=version.version, new=new, sha256=version.sha256, frames=result.frames,
        fps=f"{result.fps.numerator}/{result.fps.denominator}",
        scenes=tuple(CutScene(s.scene, s.frames, s.takes, s.slates) for s in result.scenes),
        events=result.events, slates=result.slates,
    )


def import_step(ws: Workspace, file: Path, rate: str | None) -> CutImport:
    """The editor's timeline conformed and saved as the current cut (`failed`: some events could not be)."""
    from editorial.catalog import video_assets
    from editorial.conform import conform
    from editorial.rates import cut_rate
    from editorial.timelines import read_timeline
    from editorial.versions import file_sha256, save_cut

    fps = cut_rate(rate) if rate is not None else Fraction(ws.film.film.fps)
    timeline = read_timeline(file, fps)
    result = conform(timeline, video_assets(ws.ledger, ws.profile.profile_hash()), ws.film.film.id, str(file), fps)
    version, new = save_cut(result.timeline, ws.ledger, ws.home, ws.film.film.id, "imported",
                            source=file.absolute(), source_sha256=file_sha256(file))
    return CutImport(
        path=str(version.path), version=version.version, new=new, sha256=version.sha256, source=str(file),
        source_sha256=version.source_sha256, frames=result.frames,
        fps=f"{result.fps.numerator}/{result.fps.denominator}", start_frame=result.start_frame,
        resolved=tuple(result.resolved), unresolved=tuple(Unresolved(u.event, u.name, u.reason)
                                                          for u in result.unresolved),
        scenes=tuple(result.scenes), failed=bool(result.failed),
    )


@dataclass(frozen=True)
class CutStaleness:
    """Whether the review cut of the current cut version is up to date, and why not."""

    version: int | None  # None: the film has no cut yet
    reasons: tuple[str, ...]

    @property
    def stale(self) -> bool:
        return self.version is not None and bool(self.reasons)

    def summary(self) -> CutStage:
        """What `run` reports for the cut when it renders nothing."""
        reason = "no cut yet" if self.version is None else "; ".join(self.reasons) or "up to date"
        return CutStage(rendered=False, version=self.version, reason=reason)


def review_cut_staleness(ws: Workspace) -> CutStaleness:
    """Is the review cut stale? Its cut version, a segment's inputs (takes' proxies and masters, card texts, the
    render profile) or its subtitles and chapters changed. Ledger queries and file reads only, no ffmpeg.

    Raises MissingProxies when a take's asset has no proxy yet.
    """
    from editorial.review import stale_reasons

    if ws.ledger.current_cut(ws.film.film.id) is None:
        return CutStaleness(None, ())
    version, plan = _plan(ws)
    return CutStaleness(version.version, tuple(stale_reasons(plan, ws.film, ws.home)))


def _plan(ws: Workspace) -> tuple[Any, Any]:
    """(current cut version, its review cut plan relinked to the proxies)."""
    from editorial.catalog import video_assets
    from editorial.segments import ProxyRef, plan_cut, proxy_rate
    from editorial.versions import current_cut

    from .masters_steps import RenditionsAtHand

    film_id = ws.film.film.id
    version, timeline = current_cut(ws.ledger, film_id)
    profile_hash = ws.profile.profile_hash()
    assets = {a.asset_id: a for a in video_assets(ws.ledger)}
    masters: dict[str, str] = {}
    proxies: dict[str, ProxyRef] = {}
    with RenditionsAtHand(ws) as at_hand:  # a proxy a worker elsewhere made is fetched from S3
        for asset, proxy in ws.ledger.render_states(profile_hash, kinds=("video",)):
            masters[asset.asset_id] = asset.sha256
            ref = assets.get(asset.asset_id)
            if ref is not None and proxy is not None and proxy.state == "done":
                local = at_hand.path(proxy, "proxy")
                if local is not None:
                    proxies[asset.asset_id] = ProxyRef(local, proxy_rate(ref.fps), asset.audio_tracks > 0,
                                                       _stamp(local))
    plan = plan_cut(timeline, film_id, Fraction(ws.film.film.fps), assets, masters, proxies, profile_hash)
    return version, plan


def _stamp(path: Path) -> str:
    """Which file a proxy is (size, modification time): a proxy rendered again makes its segments stale."""
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def review_cut_step(ws: Workspace) -> CutRender:
    """Render what is stale of the current cut's review cut; the `cut render --json` report.

    Raises NoCut before the first cut and MissingProxies when a take's asset has no proxy yet.
    """
    from editorial.review import render_review_cut

    version, plan = _plan(ws)
    cut = render_review_cut(plan, ws.film, ws.profile, ws.settings.renders, ws.home)
    runtime = plan.frames / plan.fps
    return CutRender(
        path=str(cut.path), poster=str(cut.poster), version=version.version, frames=plan.frames,
        fps=f"{plan.fps.numerator}/{plan.fps.denominator}", start_timecode=plan.start_timecode,
        events=plan.events, resolved=plan.resolved,
        unresolved=tuple(Unresolved(u.event, u.name, u.reason) for u in plan.unresolved),
        segments=tuple(SegmentRun(s.scene, s.frames, s.rendered) for s in cut.segments),
        chapters=str(cut.chapters), subtitles={k: str(v) for k, v in cut.subtitles.items()}, qc=cut.qc,
        render_seconds=round(cut.elapsed_s, 2),
        speed=round(float(runtime) / cut.elapsed_s, 2) if cut.elapsed_s > 0 else None,
    )
