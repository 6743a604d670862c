"""The cut's steps over a Workspace (no Prefect here): assemble the string-out, render the review cut.

`cut assemble`/`cut render` and `docfilm demo` share them.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .workspace import Workspace


def assemble_step(ws: Workspace) -> dict[str, Any]:
    """The string-out saved as the current cut unless identical to it; the `cut assemble --json` report."""
    from editorial.assemble import assemble
    from editorial.catalog import video_assets
    from editorial.versions import save_cut

    settings = ws.settings.editorial
    assets = video_assets(ws.ledger, ws.profile.profile_hash())
    result = assemble(ws.film, assets, Fraction(str(settings.title_card_seconds)))
    version, new = save_cut(result.timeline, ws.ledger, ws.home, ws.film.film.id, "assembled")
    return {
        "path": str(version.path), "version": version.version, "new": new, "sha256": version.sha256,
        "frames": result.frames, "fps": f"{result.fps.numerator}/{result.fps.denominator}",
        "scenes": [{"scene": s.scene, "frames": s.frames, "takes": s.takes, "slates": s.slates}
                   for s in result.scenes],
        "events": result.events, "slates": result.slates,
    }


def review_cut_step(ws: Workspace) -> dict[str, Any]:
    """Render what is stale of the current cut's review cut; the `cut render --json` report.

    Raises NoCut before the first cut and MissingProxies when a take's asset has no proxy yet.
    """
    from editorial.catalog import video_assets
    from editorial.review import render_review_cut
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
                    proxies[asset.asset_id] = ProxyRef(local, proxy_rate(ref.fps), asset.audio_tracks > 0)
    plan = plan_cut(timeline, film_id, Fraction(ws.film.film.fps), assets, masters, proxies, profile_hash)
    cut = render_review_cut(plan, ws.film, ws.profile, ws.settings.renders, ws.home)
    runtime = plan.frames / plan.fps
    return {
        "path": str(cut.path), "poster": str(cut.poster), "version": version.version, "frames": plan.frames,
        "fps": f"{plan.fps.numerator}/{plan.fps.denominator}", "start_timecode": plan.start_timecode,
        "events": plan.events, "resolved": plan.resolved,
        "unresolved": [{"event": u.event, "name": u.name, "reason": u.reason} for u in plan.unresolved],
        "segments": [{"scene": s.scene, "frames": s.frames, "rendered": s.rendered} for s in cut.segments],
        "chapters": str(cut.chapters), "subtitles": {k: str(v) for k, v in cut.subtitles.items()}, "qc": cut.qc,
        "render_seconds": round(cut.elapsed_s, 2),
        "speed": round(float(runtime) / cut.elapsed_s, 2) if cut.elapsed_s > 0 else None,
    }
