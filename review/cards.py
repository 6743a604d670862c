"""The packet's clip cards and figures: a clip's view with its QC flags and failure reason, a scene's facts."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING

from core.timecode import duration_timecode, parse_rate, rate_text, review_rate
from renders.flags import QcFlag
from review.changes import Changes
from review.labels import (
    CLIP_KINDS,
    FACT_STATUSES,
    FIGURE_RESULTS,
    QC_KINDS,
    QC_OTHER,
    Label,
    decode_errors_label,
    lookup,
    not_yet_known_label,
    qc_flag_label,
    rate_label,
)
from review.media import MediaPlan
from review.records import ClipRecord
from review.views import ClipChange, ClipView, FactView, FigureView, QcFlagView

if TYPE_CHECKING:
    from figures.check import FigureCheck
    from storyboard.models import Fact, Film, Scene

log = logging.getLogger(__name__)

# A path-looking token in an ffmpeg/PyAV message: keep only its last component, so no local path leaks.
_ABSOLUTE_PATH = re.compile(r"(?:[A-Za-z]:)?[/\\](?:[^\s/\\:'\"]+[/\\])+([^\s/\\:'\"]*)")
_REASON_MAX = 300
_QC_FLAGS_SHOWN = 8


def clean_reason(reason: str | None) -> str:
    """A failure reason fit for the packet: local paths cut to their file name, length capped."""
    if not reason:
        return ""
    text = _ABSOLUTE_PATH.sub(lambda m: m.group(1) or "…", reason.strip())
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"


def _flag_text(value: object) -> Label | None:
    """A flag's message as a Label: "Vietnamese / English" splits in two; anything else shows as it is."""
    if value is None or value == "":
        return None
    text = clean_reason(str(value))
    vi, sep, en = text.partition(" / ")
    return Label(vi, en) if sep and vi and en else Label(text, text)


def _flag_view(flag: Mapping[str, object]) -> QcFlagView:
    kind = str(flag.get("rule") or "qc")
    start, end = flag.get("start"), flag.get("end")
    message: Label | None
    try:
        # A structured flag (rule, value, limit, where): its words are made here, not by renders.
        message = qc_flag_label(QcFlag.from_json(flag))
    except ValueError:  # stored before flags were records: its own message
        message = _flag_text(flag.get("message"))
    tc = f"{start}–{end}" if start and end else (str(start) if start else None)
    if tc and message and str(start) in message.vi:
        tc = None  # the message already says where
    label = lookup(QC_KINDS, kind)
    # Messages begin with the kind already ("Hình đen 3.0 s …"): do not say it twice.
    named = message is not None and message.vi.casefold().startswith(label.vi.casefold())
    return QcFlagView(kind=kind, label=None if named else label, detail=message, tc=tc)


def qc_flags(qc: Mapping[str, object] | None) -> tuple[QcFlagView, ...]:
    """The QC problems of a clip, for the packet: what kind, its message, and the timecode range.

    Reads `flags` as renders.qc writes them ({"rule", "start", "end"} with a "message", or with "value" and
    "limit"; anything else is shown as plain text) and `decode_error_count`. Measurements without a verdict
    are not flags and are not shown.
    """
    if not qc:
        return ()
    out: list[QcFlagView] = []
    raw = qc.get("flags")
    if isinstance(raw, list):
        for flag in raw:
            if isinstance(flag, Mapping):
                out.append(_flag_view(flag))
            else:
                out.append(QcFlagView("qc", QC_OTHER, _flag_text(flag), None))
    errors = qc.get("decode_error_count")
    if isinstance(errors, int) and errors > 0 and not any(f.kind == "decode" for f in out):
        first = qc.get("decode_errors")
        line = clean_reason(str(first[0])) if isinstance(first, list) and first else ""
        out.append(QcFlagView("decode", None, decode_errors_label(errors, line), None))
    return tuple(out[:_QC_FLAGS_SHOWN])


def clip_view(clip: ClipRecord, plan: MediaPlan, film_scene_ids: set[str], scene_id: str | None,
               changes: Changes) -> ClipView:
    rate = parse_rate(clip.fps)
    duration_tc = (
        duration_timecode(clip.duration_frames, rate)
        if rate is not None and clip.duration_frames is not None and clip.kind != "still"
        else None
    )
    width, height = clip.width, clip.height
    if width and height and clip.rotation % 180 == 90:
        # Proxies have the rotation applied, so the picture is displayed upright.
        width, height = height, width
    media = plan.clips[clip.asset_id]
    change: ClipChange | None = None
    if clip.asset_id in changes.new_clips:
        change = "new"
    elif clip.asset_id in changes.updated_proxies:
        change = "proxy"
    return ClipView(
        asset_id=clip.asset_id,
        name=clip.name,
        kind=clip.kind,
        kind_label=lookup(CLIP_KINDS, clip.kind),
        start_timecode=clip.start_timecode,
        duration_timecode=duration_tc,
        duration_frames=clip.duration_frames,
        fps=rate_label(rate) if rate is not None else None,
        # The rate the proxy plays and notes count frames at (above 60 fps, the timecode's base rate).
        rate=rate_text(review_rate(rate)) if rate is not None else None,
        width=width,
        height=height,
        rotation=clip.rotation,
        sha256_short=clip.sha256[:12],
        scene_given=clip.scene_id if clip.scene_id and clip.scene_id not in film_scene_ids else None,
        scene_id=scene_id,
        state=media.state,
        media_src=media.media_src,
        media_type=media.media_type,
        poster_src=media.poster_src,
        sheet_src=media.sheet_src,
        qc_flags=qc_flags(clip.qc),
        reason=(clean_reason(clip.proxy_reason) or "—") if media.state == "failed" else "",
        change=change,
    )


def fact_is_known(fact: Fact, as_of: date) -> bool:
    """Whether a figure could be shown as known in a packet dated `as_of`.

    Never when its year is after the as-of year, nor when its source dates it after `as_of`. A figure for
    the as-of year itself is known only when it is a target (the year's plan) or its source dates it on or
    before `as_of`: an estimate or actual for the running year without a date (e.g. 2019 GRDP growth in a
    packet of May 2019) was published after the year, so showing it would present a later figure as known.
    """
    if fact.year > as_of.year:
        return False
    if fact.as_of is not None:
        return fact.as_of <= as_of
    return fact.year < as_of.year or fact.status == "target"


def _fact_view(fact: Fact, as_of: date) -> FactView:
    known = fact_is_known(fact, as_of)
    url = fact.source.url
    # Only web links are followed; anything else (javascript:, file:) is shown as plain text.
    safe_url = url if url and re.match(r"^https?://", url, re.IGNORECASE) else None
    return FactView(
        id=fact.id,
        label=Label(fact.label.vi, fact.label.en),
        known=known,
        value=fact.value if known else None,
        unit=fact.unit if known else None,
        year=fact.year,
        status=fact.status,
        status_label=lookup(FACT_STATUSES, fact.status),
        unknown_label=not_yet_known_label(as_of),
        source_title=fact.source.title,
        source_url=safe_url,
        source_text=None if safe_url else url,
    )


# Contradictions and unsourced figures first (issue 11, item 4).
_RESULT_ORDER = ("contradicts", "unsourced", "status-mismatch", "not-yet-known", "sourced")


def figure_views(film: Film, checks: Iterable[FigureCheck], as_of: date) -> tuple[FigureView, ...]:
    """The packet's list of every figure the film states; a fact not known on `as_of` shows no value."""
    views: list[tuple[int, int, FigureView]] = []
    for n, check in enumerate(checks):
        fact = None
        cell = None
        if check.fact is not None:
            try:
                found = film.fact(check.fact)
            except KeyError:
                found = None
            if found is not None:
                fact = _fact_view(found, as_of)
                if found.provenance is not None:
                    cell = f"{found.provenance.sheet or found.provenance.file}!{found.provenance.cell}"
        sentence, start = check.sentence, check.offset
        views.append((_RESULT_ORDER.index(check.result) if check.result in _RESULT_ORDER else 0, n, FigureView(
            lang=check.lang,
            scene_id=check.scene,
            where=f"{check.file.rsplit('/', 1)[-1]}:{check.line}:{check.col}",
            before=sentence[:start],
            text=sentence[start:start + len(check.text)],
            after=sentence[start + len(check.text):],
            result=check.result,
            result_label=lookup(FIGURE_RESULTS, check.result),
            fact=fact,
            cell=cell,
        )))
    return tuple(view for _, _, view in sorted(views, key=lambda item: (item[0], item[1])))


def scene_facts(film: Film, scene: Scene, as_of: date) -> tuple[FactView, ...]:
    seen: dict[str, FactView] = {}
    for shot in scene.shots:
        for fact_id in shot.facts:
            if fact_id in seen:
                continue
            try:
                seen[fact_id] = _fact_view(film.fact(fact_id), as_of)
            except KeyError:
                log.warning("scene %s: shot %s names unknown fact %r; left out", scene.id, shot.id, fact_id)
    return tuple(seen.values())
