"""The cut's Prefect flows: assemble the string-out, import an editor's timeline, render the review cut, and
the cut's stage of a pipeline. Their Prefect-free work is in flows/cut_steps.py; flows/docfilm_flows.py gathers
every flow for the CLI and the pipeline.

This module's name cannot collide with a domain package: Prefect imports flow files with their own
folder first on sys.path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Completed

from flows import cut_steps
from flows.flow_support import md_escape, workspace
from flows.results import CutAssembly, CutImport, CutRender, CutStage

__all__ = ["cut_assemble_flow", "cut_import_flow", "cut_render_flow", "cut_stage"]


@flow(name="cut-assemble", log_prints=False)
def cut_assemble_flow(film: str | None = None) -> CutAssembly:
    """The string-out (scenes in storyboard order, a title card each, each shot's chosen take) as the film's
    current cut, unless it is the current cut already."""
    report = cut_steps.assemble_step(workspace(film))
    state = "a new version" if report.new else "unchanged"
    create_markdown_artifact(
        key="cut-assemble",
        markdown=f"String-out: cut v{report.version} ({state}), {len(report.scenes)} scenes, "
        f"{report.events} takes, {report.slates} slates, {report.frames} frames at {report.fps} fps\n\n"
        f"- `{md_escape(report.path)}`\n",
    )
    return report


@flow(name="cut-import", log_prints=False)
def cut_import_flow(file: str, rate: str | None = None, film: str | None = None) -> CutImport:
    """The editor's timeline (`file` on the worker's machine: .otio, .edl, FCP 7 .xml, .fcpxml, .aaf) conformed
    to the ledger as the current cut; `rate` is an EDL's. The artifact lists the events not conformed.

    Events that cannot be conformed are kept as missing-media slates: the run completes and says how many (the
    result's `unresolved`); a file no adapter reads fails it.
    """
    report = cut_steps.import_step(workspace(film), Path(file), rate)
    rows = [u.to_json() for u in report.unresolved]
    create_table_artifact(
        key="cut-import", table=rows or [{"event": "", "name": "", "reason": "every event conformed"}],
        description=f"Cut v{report.version} from {md_escape(Path(file).name)}: {len(report.resolved)} "
        f"of {len(report.resolved) + len(report.unresolved)} events conformed",
    )
    if report.failed:
        get_run_logger().warning("%d event(s) of %s not conformed: kept as missing-media slates",
                                 sum(1 for u in report.unresolved if u.reason != "generator"), Path(file).name)
    return report


@flow(name="cut-render", log_prints=False)
def cut_render_flow(film: str | None = None) -> Any:
    """The review cut of the current cut version, rendering only what is stale; SKIPPED when nothing is (the
    cut version, the segments' inputs, subtitles and chapters all as rendered)."""
    ws = workspace(film)
    staleness = cut_steps.review_cut_staleness(ws)
    if not staleness.stale:
        report = cut_steps.review_cut_step(ws)  # nothing to render: the report of what is on disk
        create_markdown_artifact(key="cut-render", markdown=f"Review cut v{report.version} up to date.")
        return Completed(name="SKIPPED", message="review cut up to date", data=report)
    get_run_logger().info("review cut stale: %s", "; ".join(staleness.reasons))
    report = cut_steps.review_cut_step(ws)
    rendered = sum(1 for s in report.segments if s.rendered)
    qc = report.qc
    flags: list[tuple[str, float, float]] = [(f.rule, f.value, f.limit) for f in qc.flags]
    if not qc.runtime_ok:
        flags.append(("runtime", qc.runtime_seconds, qc.target_seconds))
    create_markdown_artifact(
        key="cut-render",
        markdown=f"Review cut v{report.version}: {report.frames} frames at {report.fps} fps from "
        f"{report.start_timecode}, {rendered} of {len(report.segments)} segments rendered "
        f"({report.render_seconds} s, {report.speed}x real time)\n\n"
        f"- `{md_escape(report.path)}`\n- loudness {qc.loudness.integrated_lufs} LUFS, true peak "
        f"{qc.loudness.true_peak_dbtp} dBTP; runtime {qc.runtime_seconds} s of {qc.target_seconds} s\n"
        + "".join(f"- QC {md_escape(rule)}: {value} (limit {limit})\n" for rule, value, limit in flags),
    )
    return report


def cut_stage(film: str | None) -> CutStage:
    """The review cut in a pipeline: rendered (a subflow) only when stale. A take without a proxy (its render
    failed) or a cut ffmpeg cannot render is reported, not raised, so upload and packet still happen."""
    from core.errors import DocfilmError

    ws = workspace(film)
    try:
        staleness = cut_steps.review_cut_staleness(ws)
        if not staleness.stale:
            return staleness.summary()
        report = cast(CutRender, cut_render_flow(film=film))
    except DocfilmError as exc:
        get_run_logger().warning("review cut not rendered: %s", exc)
        return CutStage(rendered=False, version=None, reason=str(exc), error=True)
    return CutStage(rendered=True, version=report.version, render=report)
