"""The whole pipeline as one flow run (`run`, `demo`): one line per stage, a table at the end."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..env import start_prefect
from ..results import CutStage, IngestRun, PacketRun, PipelineRun, RenderRun, UploadRun
from ..uptodate import StageCheck, StageResult
from ..workspace import Workspace
from .application import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_PARTIAL,
    AsOfOpt,
    FilmOpt,
    JsonOpt,
    _bars,
    _emit,
    _fail,
    _flows,
    _parse_date,
    _state,
    _workspace,
    app,
    err,
    log,
    out,
)
from .footage import _print_ingest, _print_render, _print_upload, print_render_failures, print_upload_failures

# ---------------------------------------------------------------- run / demo
RecheckOpt = Annotated[bool, typer.Option(
    "--recheck", help="Run the pipeline flow even when the ledger shows every stage up to date: re-read every "
    "source, ask S3, rebuild the packet.")]


@app.command()
def run(
    sources: Annotated[list[Path], typer.Argument(help="Files and folders of footage.")],
    scene: Annotated[str | None, typer.Option("--scene", help="Assign every file to this scene id.")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Clips rendered at once.")] = None,
    as_of: AsOfOpt = None,
    film: FilmOpt = None,
    as_json: JsonOpt = False,
    recheck: RecheckOpt = False,
) -> None:
    """The whole pipeline as one flow run: ingest → render → upload → packet."""
    day = _parse_date(as_of)
    ws = _workspace(film)
    ws.film  # noqa: B018
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        _fail(EXIT_INPUT, f"no such file or folder: {', '.join(missing)}")
    result, stages = _run_pipeline([str(s.absolute()) for s in sources], scene=scene, jobs=jobs, as_of=day, ws=ws,
                                   recheck=recheck)
    _emit(result, as_json, lambda r: _print_pipeline(r, stages))
    bad = (result.ingest is not None and result.ingest.problems) or result.render.failed or result.upload.failed
    raise typer.Exit(EXIT_PARTIAL if bad else EXIT_OK)


# What each stage's counts are called on the terminal: (done, already there).
STAGE_WORDS = {
    "ingest": ("new", "already in the library"),
    "render": ("rendered", "up to date"),
    "cut": ("segments rendered", "reused"),
    "upload": ("uploaded", "already in S3"),
    "packet": ("built", ""),
}


@dataclass(frozen=True)
class StageCounts:
    """One stage of a pipeline run as the terminal shows it."""

    stage: str
    done: int
    already: int | None
    problems: int
    problem_word: str
    seconds: float | None = None
    note: str = ""

    @classmethod
    def of(cls, stage: str, r: StageResult, seconds: float | None = None) -> StageCounts:
        if isinstance(r, IngestRun):
            quarantined, failed = len(r.report.quarantined), len(r.report.failed)
            word = "quarantined" if not failed else "failed" if not quarantined else "quarantined or failed"
            return cls(stage, len(r.report.ingested), len(r.report.duplicates), quarantined + failed, word, seconds)
        if isinstance(r, CutStage):
            if r.render is None:  # not rendered: up to date, no cut yet, or a take without a proxy
                return cls(stage, 0, None, 1 if r.error else 0, "not rendered", seconds, r.reason or "")
            segments = r.render.segments
            done = sum(1 for x in segments if x.rendered)
            return cls(stage, done, len(segments) - done, 0, "", seconds, f"cut v{r.render.version}")
        if isinstance(r, PacketRun):
            return cls(stage, 0 if r.unchanged else 1, None, 1 if r.hosted_error else 0, "hosted copy failed",
                       seconds)
        if isinstance(r, RenderRun):
            return cls(stage, len(r.rendered), r.skipped, len(r.failed), "failed", seconds)
        if isinstance(r, UploadRun):
            return cls(stage, len(r.uploaded), r.skipped, len(r.failed), "failed", seconds)
        raise TypeError(f"no counts for the {stage} stage's {type(r).__name__}")

    def line(self) -> str:
        done_word, already_word = STAGE_WORDS[self.stage]
        parts = [f"{self.done} {done_word}"]
        if self.already is not None:
            parts.append(f"{self.already} {already_word}")
        if self.problems:
            parts.append(f"{self.problems} {self.problem_word}")
        if self.note:
            parts.append(self.note)
        took = f"  ({self.seconds:.1f} s)" if self.seconds is not None else ""
        return f"{self.stage:<7} {', '.join(parts)}{took}"


class StageLines:
    """The CLI's stage reporter: one line on stderr as each stage of the pipeline ends, with its time."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.stages: list[StageCounts] = []
        self._since = time.monotonic()

    def stage_finished(self, stage: str, result: StageResult) -> None:
        now = time.monotonic()
        counts = StageCounts.of(stage, result, round(now - self._since, 1))
        self._since = now
        self.stages.append(counts)
        self.console.print(counts.line(), markup=False, highlight=False, soft_wrap=True)

    def stage_checked(self, check: StageCheck) -> None:
        """A stage shown up to date without the flow (flows.uptodate): its line says how it was shown."""
        counts = StageCounts.of(check.stage, check.result, check.seconds)
        if check.how:
            counts = replace(counts, note=", ".join(n for n in (counts.note, check.how) if n))
        self.stages.append(counts)
        self.console.print(counts.line(), markup=False, highlight=False, soft_wrap=True)


def _run_pipeline(
    sources: list[str], *, scene: str | None = None, jobs: int | None, as_of: date, ws: Workspace,
    assemble_cut: bool = False, recheck: bool = False,
) -> tuple[PipelineRun, StageLines]:
    """The pipeline flow, telling each stage's end on stderr and drawing render bars on a terminal
    (`assemble_cut`: the string-out becomes the current cut before the review cut stage, as in the demo).

    First, unless `recheck` (or with --scene), flows.uptodate checks without Prefect or S3 whether every stage is
    up to date; when it is, its lines and result stand for the flow's and no flow runs.
    """
    from ..progress import reporting_stages

    stages = StageLines(err)
    if scene is None and not recheck:
        from ..uptodate import pipeline_up_to_date

        checked = pipeline_up_to_date(ws, sources, as_of=as_of, assemble_cut=assemble_cut)
        if not isinstance(checked, str):
            for check in checked.checks:
                if check.stage in STAGE_WORDS:
                    stages.stage_checked(check)
            err.print("nothing to do: every stage is up to date (checked without running the flow; --recheck runs "
                      "it)", markup=False, highlight=False, soft_wrap=True)
            return checked.result, stages
        log.info("running the pipeline flow: %s", checked)
    with _bars(), reporting_stages(stages), _flows() as flows:
        result: PipelineRun = flows.pipeline_flow(sources, scene=scene, jobs=jobs, as_of=as_of, film=str(ws.film_file),
                                     assemble_cut=assemble_cut)
    return result, stages


def _print_pipeline(r: PipelineRun, stages: StageLines | None = None, expected: set[str] | None = None) -> None:
    """A table of the stages, then every problem with its reason (each item too with -v), then the packet."""
    if _state.verbose:
        if r.ingest is not None:
            _print_ingest(r.ingest)
        _print_render(r.render)
        _print_upload(r.upload)
    timed = {c.stage: c for c in stages.stages} if stages is not None else {}
    results: dict[str, StageResult | None] = {"ingest": r.ingest, "render": r.render, "cut": r.cut,
                                              "upload": r.upload, "packet": r.packet}
    table = Table(show_edge=False)
    for name, justify in (("stage", "left"), ("done", "right"), ("already", "right"), ("problems", "right"),
                          ("seconds", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for stage in STAGE_WORDS:
        shown = results[stage]
        c = timed.get(stage) or (StageCounts.of(stage, shown) if shown is not None
                                 else StageCounts(stage, 0, None, 0, ""))
        table.add_row(stage, str(c.done), "" if c.already is None else str(c.already), str(c.problems),
                      "" if c.seconds is None else f"{c.seconds:.1f}")
    out.print(table)
    expected = expected or set()
    ingest = r.ingest.report if r.ingest is not None else None
    for q in ingest.quarantined if ingest else ():
        if q.path in expected:
            out.print(f"quarantined (expected: the demo's deliberately broken file) {Path(q.path).name}",
                      markup=False, soft_wrap=True)
        else:
            out.print(f"QUARANTINED {q.path}: {q.reason}", markup=False, soft_wrap=True)
    for f in ingest.failed if ingest else ():
        out.print(f"FAILED    {f.path}: {f.reason}", markup=False, soft_wrap=True)
    if not _state.verbose:
        print_render_failures(r.render)
        print_upload_failures(r.upload)
    if r.cut.error:
        out.print(f"review cut not rendered: {r.cut.reason}", markup=False, soft_wrap=True)
    elif r.cut.render is not None:
        out.print(f"review cut: {r.cut.render.path}", markup=False, soft_wrap=True)
    if r.packet.hosted_error:
        out.print(f"hosted copy not published: {r.packet.hosted_error}", markup=False, soft_wrap=True)
    if r.facts.not_sourced:
        # A warning, not a failure: the packet shows these figures; `docfilm facts check` lists them.
        out.print(f"figures: {r.facts.not_sourced} of {r.facts.figures} not sourced (warning; see docfilm facts "
                  "check)", markup=False, soft_wrap=True)
    out.print(f"packet: {r.packet.path}", markup=False, soft_wrap=True)


@app.command()
def demo(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to make the sample footage "
                                                 "(default: DOCFILM_HOME/demo-footage).")] = None,
    as_of: AsOfOpt = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Clips rendered at once.")] = None,
    recheck: RecheckOpt = False,
) -> None:
    """Make camera-like footage for the bundled film, run the whole pipeline, print the packet's path."""
    from ..demo import footage_complete, make_demo_footage

    day = _parse_date(as_of or "2019-05-20")
    ws = _workspace(None)
    folder = (out_dir or ws.home / "demo-footage").absolute()
    if recheck or not footage_complete(ws.film, folder):
        start_prefect()  # the flow will run: its server boots while the footage is made
    footage = make_demo_footage(ws.film, folder, ws.settings.renders, console=err)
    result, stages = _run_pipeline([str(folder)], jobs=jobs, as_of=day, ws=ws, assemble_cut=True, recheck=recheck)
    expected = {str(p) for p in footage.broken}
    _print_pipeline(result, stages, expected)
    ingest = result.ingest.report if result.ingest is not None else None
    unexpected = [q for q in (ingest.quarantined if ingest else ()) if q.path not in expected]
    # Last on the terminal: where to open the packet.
    err.print(f"Mở hồ sơ xem xét / open the review packet: {result.packet.path}", markup=False, soft_wrap=True)
    if unexpected or (ingest and ingest.failed) or result.render.failed or result.upload.failed:
        raise typer.Exit(EXIT_PARTIAL)
