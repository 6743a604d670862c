"""Progress of a command: render bars fed by one tally per render run, and the end of each pipeline stage.

Render progress is shown as Rich bars by the CLI and as a Prefect progress artifact. Tasks run in threads of
the flow's process, so the CLI installs its reporter here (`reporting`) and every task's ffmpeg progress
reaches it through the run's RenderTally. Likewise the pipeline flow tells the end of each stage (ingest,
render, upload, packet) to the CLI's stage reporter (`reporting_stages`), which prints one line for it.
No Prefect import here: the flow passes a `publish` callback for its artifact.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

# A Prefect artifact update is an API call: publish only every few percent.
PUBLISH_STEP_PERCENT = 5.0


class RenderReporter(Protocol):
    """Something that shows render progress (the CLI's Rich bars)."""

    def run_started(self, clips: int, frames: int) -> None: ...
    def clip_started(self, asset_id: str, name: str, frames: int) -> None: ...
    def clip_advanced(self, asset_id: str, frames: int, overall_frames: int) -> None: ...
    def clip_finished(self, asset_id: str, ok: bool) -> None: ...


_reporter: RenderReporter | None = None


def ingest_file_started(path: Path) -> None:
    """Ingest reached another file (its `on_file` callback): counted by the installed reporter if it counts files."""
    file_started = getattr(_reporter, "file_started", None)
    if file_started is not None:
        file_started(path.name)


def ingest_ended() -> None:
    """Ingest walked every source: the installed reporter's count of files is final."""
    files_counted = getattr(_reporter, "files_counted", None)
    if files_counted is not None:
        files_counted()


@contextmanager
def reporting(reporter: RenderReporter | None) -> Iterator[None]:
    """Route the render progress of this process to `reporter` while the block runs."""
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield
    finally:
        _reporter = previous


class StageReporter(Protocol):
    """Something that tells the end of each pipeline stage (the CLI's one line per stage)."""

    def stage_finished(self, stage: str, result: Any) -> None: ...


_stage_reporter: StageReporter | None = None


@contextmanager
def reporting_stages(reporter: StageReporter | None) -> Iterator[None]:
    """Route the ends of pipeline stages in this process to `reporter` while the block runs."""
    global _stage_reporter
    previous, _stage_reporter = _stage_reporter, reporter
    try:
        yield
    finally:
        _stage_reporter = previous


def stage_finished(stage: str, result: Any) -> None:
    """A pipeline stage ended with `result` (its flow's return value); a no-op when nobody listens."""
    if _stage_reporter is not None:
        _stage_reporter.stage_finished(stage, result)


class RenderTally:
    """Frames done per clip and overall for one render run; thread-safe."""

    def __init__(self, clip_frames: dict[str, int], publish: Callable[[float], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._expected = {k: max(1, v) for k, v in clip_frames.items()}
        self._done: dict[str, int] = dict.fromkeys(clip_frames, 0)
        self._publish = publish
        self._published = 0.0
        self.reporter = _reporter
        if self.reporter is not None:
            self.reporter.run_started(len(clip_frames), self.total)

    @property
    def total(self) -> int:
        return sum(self._expected.values())

    @property
    def percent(self) -> float:
        return 100.0 * sum(self._done.values()) / max(1, self.total)

    def clip_started(self, asset_id: str, name: str) -> None:
        if self.reporter is not None:
            self.reporter.clip_started(asset_id, name, self._expected.get(asset_id, 1))

    def advance(self, asset_id: str, frames: int) -> None:
        """ffmpeg wrote `frames` of this clip so far."""
        with self._lock:
            self._done[asset_id] = min(frames, self._expected.get(asset_id, frames))
            overall = sum(self._done.values())
            percent = self.percent
            publish = self._publish is not None and percent - self._published >= PUBLISH_STEP_PERCENT
            if publish:
                self._published = percent
        if self.reporter is not None:
            self.reporter.clip_advanced(asset_id, frames, overall)
        if publish and self._publish is not None:
            self._publish(percent)

    def clip_finished(self, asset_id: str, ok: bool) -> None:
        with self._lock:
            # A failed or shorter-than-recorded clip still counts as done for the overall bar.
            self._done[asset_id] = self._expected.get(asset_id, 0)
            overall = sum(self._done.values())
            percent = self.percent
            publish = self._publish is not None and percent != self._published
            self._published = percent
        if self.reporter is not None:
            self.reporter.clip_advanced(asset_id, self._expected.get(asset_id, 0), overall)
            self.reporter.clip_finished(asset_id, ok)
        if publish and self._publish is not None:
            self._publish(percent)


class RichRenderProgress:
    """Rich bars on stderr: one overall bar (frames of every clip) and one per clip being rendered; and, while
    ingesting, a count of the files reached (their number is known only once the sources are walked)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._overall: TaskID | None = None
        self._clips: dict[str, TaskID] = {}
        self._ingest: TaskID | None = None
        self._files = 0
        self._lock = threading.Lock()

    def __enter__(self) -> RichRenderProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def file_started(self, name: str) -> None:
        with self._lock:
            if self._ingest is None:
                self._ingest = self.progress.add_task("ingest", total=None, unit="files")
            self._files += 1
            self.progress.update(self._ingest, completed=self._files, description=f"ingest: {name[:40]}")

    def files_counted(self) -> None:
        with self._lock:
            if self._ingest is not None:
                self.progress.update(self._ingest, description="ingest", total=self._files, completed=self._files)

    def run_started(self, clips: int, frames: int) -> None:
        self._overall = self.progress.add_task(f"render: {clips} clip(s)", total=frames, unit="frames")

    def clip_started(self, asset_id: str, name: str, frames: int) -> None:
        with self._lock:
            self._clips[asset_id] = self.progress.add_task(f"  {name[:40]}", total=frames, unit="frames")

    def clip_advanced(self, asset_id: str, frames: int, overall_frames: int) -> None:
        with self._lock:
            task = self._clips.get(asset_id)
        if task is not None:
            self.progress.update(task, completed=frames)
        if self._overall is not None:
            self.progress.update(self._overall, completed=overall_frames)

    def clip_finished(self, asset_id: str, ok: bool) -> None:
        with self._lock:
            task = self._clips.pop(asset_id, None)
        if task is not None:
            self.progress.remove_task(task)
