"""The one place ffmpeg runs: logs the command, reports progress, enforces a timeout, commits temp files."""

from __future__ import annotations

import fcntl
import logging
import os
import shlex
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

from renders.errors import FfmpegFailed, FfmpegMissing, RenderBusy, RenderTimeout

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]
"""Called with the number of frames written so far (first output), about twice a second.

For outputs without video (audio proxies) run_ffmpeg counts frames from the output time at `time_rate`.
"""

STDERR_TAIL_LINES = 15
_STDERR_KEEP_LINES = 2000

# The ffmpeg processes this process runs now (renders run on worker threads): stop_running ends them.
_running: set[subprocess.Popen[bytes]] = set()
_running_lock = threading.Lock()
_stopping = threading.Event()


def stop_running() -> int:
    """Kill every ffmpeg this process runs now, and any it starts for the rest of its life (a Ctrl-C of the
    command, which then ends: the threads rendering them raise KeyboardInterrupt and remove their temporary
    files; nothing is committed). Returns how many were running."""
    _stopping.set()
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    return len(procs)


@dataclass(frozen=True)
class RunResult:
    """What a successful ffmpeg run left behind besides its output files."""

    args: list[str]
    stderr: str
    frames: int
    elapsed_s: float

    @property
    def stderr_lines(self) -> list[str]:
        """Non-empty stderr lines (at the run's log level these are ffmpeg's complaints)."""
        return [line for line in self.stderr.splitlines() if line.strip()]


def temp_path(final: Path) -> Path:
    """Hidden temp name next to `final`, keeping its extension so ffmpeg picks the same muxer."""
    return final.with_name(f".{final.stem}.tmp{final.suffix}")


def run_flags(loglevel: str = "error") -> list[str]:
    """Global flags the runner puts right after the ffmpeg executable."""
    return ["-nostdin", "-hide_banner", "-y", "-progress", "pipe:1", "-nostats", "-loglevel", loglevel]


def _drain(stream: IO[bytes], keep: deque[str]) -> None:
    for raw in stream:
        keep.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))


def _read_progress(stream: IO[bytes], on_progress: ProgressCallback | None, time_rate: Fraction | None = None) -> int:
    """Parse `-progress` key=value blocks; returns the last frame count.

    With `time_rate`, the count is at least the output time (out_time_us) in frames at that rate.
    """
    frames = 0
    for raw in stream:
        key, _, value = raw.decode("ascii", errors="replace").strip().partition("=")
        if key == "frame" and value.isdigit():
            frames = max(frames, int(value))
        elif key == "out_time_us" and time_rate is not None and value.isdigit():
            frames = max(frames, int(Fraction(int(value), 1_000_000) * time_rate))
        elif key == "progress" and on_progress is not None:
            on_progress(frames)
    return frames


def _remove_temps(outputs: Iterable[tuple[Path, Path]]) -> None:
    for tmp, _final in outputs:
        try:
            tmp.unlink(missing_ok=True)
        except OSError as exc:  # a leftover temp is harmless; never mask the real error
            log.warning("could not remove temp file %s: %s", tmp, exc)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(outputs: Sequence[tuple[Path, Path]]) -> None:
    """Make the temps durable, then rename them to their finals in the given order (last = primary)."""
    for tmp, _final in outputs:
        _fsync_path(tmp)
    for tmp, final in outputs:
        os.replace(tmp, final)
    for folder in {final.parent for _tmp, final in outputs}:
        _fsync_path(folder)


def _check_outputs(outputs: Sequence[tuple[Path, Path]]) -> None:
    for tmp, final in outputs:
        if tmp == final:
            raise ValueError(f"temp and final output are the same file: {final}")
        if tmp.parent.resolve() != final.parent.resolve():
            # os.replace is only atomic within one folder (one filesystem).
            raise ValueError(f"temp {tmp} must be in the same folder as {final}")


@contextmanager
def output_lock(path: Path | None, label: str) -> Iterator[int | None]:
    """Hold an exclusive lock on `path` (created, removed on release) or raise RenderBusy at once.

    The lock's descriptor is handed to ffmpeg as well (pass_fds), so the lock lasts as long as either
    process: when this process is killed (kill -9) its ffmpeg finishes the temp files it is writing
    (ffmpeg ignores its broken progress pipe), and no other render may write the same temp names meanwhile.
    """
    if path is None:
        yield None
        return
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RenderBusy(label) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        # The previous holder removed the file between our open and lock: lock the current one instead.
        os.close(fd)
    try:
        yield fd
    finally:
        # Removed while still locked, so a waiting process re-checks the inode instead of sharing a dead lock.
        path.unlink(missing_ok=True)
        os.close(fd)


def run_ffmpeg(
    args: Sequence[str],
    outputs: Sequence[tuple[Path, Path]],
    timeout_s: float | None = None,
    on_progress: ProgressCallback | None = None,
    *,
    label: str | None = None,
    loglevel: str = "error",
    validate: Callable[[], None] | None = None,
    time_rate: Fraction | None = None,
    lock: Path | None = None,
    scratch: Sequence[Path] = (),
) -> RunResult:
    """Run ffmpeg (`args[0]` is the executable) and rename each (temp, final) output on success only.

    On failure, timeout, an exception from `on_progress` or `validate` (called after ffmpeg succeeded,
    before anything is renamed), every temp is deleted and no final is touched. Outputs are renamed in the
    order given, so put the file whose presence means "done" last. `time_rate`: see ProgressCallback.
    With `lock`, the run holds that lock file (see output_lock) and raises RenderBusy, touching nothing,
    when another run (or the orphaned ffmpeg of a killed one) holds it. `scratch` files (what ffmpeg writes
    for `validate` to read, such as QC measurements) are removed when the run ends, whatever its outcome.
    """
    if not args:
        raise ValueError("run_ffmpeg needs at least the ffmpeg executable")
    _check_outputs(outputs)
    label = label or (str(outputs[-1][1]) if outputs else "ffmpeg")
    with output_lock(lock, label) as lock_fd:
        try:
            return _run_locked(args, outputs, timeout_s, on_progress, label, loglevel, validate, time_rate, lock_fd)
        finally:
            _remove_temps([(path, path) for path in scratch])


def _run_locked(
    args: Sequence[str],
    outputs: Sequence[tuple[Path, Path]],
    timeout_s: float | None,
    on_progress: ProgressCallback | None,
    label: str,
    loglevel: str,
    validate: Callable[[], None] | None,
    time_rate: Fraction | None,
    lock_fd: int | None,
) -> RunResult:
    argv = [args[0], *run_flags(loglevel), *args[1:]]
    log.debug("running %s", shlex.join(argv))

    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Own session: a Ctrl-C in the terminal reaches Python only; the command then ends ffmpeg through
            # stop_running (a render runs on a worker thread, which the interrupt does not reach).
            start_new_session=True,
            pass_fds=(lock_fd,) if lock_fd is not None else (),
        )
        with _running_lock:
            _running.add(proc)
        if _stopping.is_set():
            proc.kill()  # started after the interrupt: it fails as the others did
    except OSError as exc:
        _remove_temps(outputs)
        raise FfmpegMissing(
            f"cannot start ffmpeg {args[0]!r}: {exc}; set DOCFILM_FFMPEG to a working ffmpeg or unset it"
        ) from exc

    stderr_keep: deque[str] = deque(maxlen=_STDERR_KEEP_LINES)
    assert proc.stdout is not None and proc.stderr is not None
    stderr_reader = threading.Thread(target=_drain, args=(proc.stderr, stderr_keep), daemon=True)
    stderr_reader.start()

    timed_out = threading.Event()

    def _on_timeout() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout_s, _on_timeout) if timeout_s is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()

    committed = False
    try:
        frames = _read_progress(proc.stdout, on_progress, time_rate)
        returncode = proc.wait()
        if timer is not None:
            timer.cancel()
        stderr_reader.join(timeout=10)
        lines = [line for line in stderr_keep if line.strip()]
        tail = "\n".join(lines[-STDERR_TAIL_LINES:])
        if _stopping.is_set() and returncode != 0:
            raise KeyboardInterrupt  # killed by stop_running: the command's interrupt, not a failed clip
        if timed_out.is_set() and returncode != 0:
            assert timeout_s is not None
            raise RenderTimeout(label, timeout_s)
        if returncode != 0:
            raise FfmpegFailed(label, returncode, tail)
        for tmp, final in outputs:
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise FfmpegFailed(label, returncode, tail, reason=f"ffmpeg wrote nothing for {final.name} ({label})")
        if validate is not None:
            validate()
        _commit(outputs)
        committed = True
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with _running_lock:
            _running.discard(proc)
        stderr_reader.join(timeout=10)  # before closing the pipe it reads
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()
        if not committed:
            _remove_temps(outputs)

    elapsed = time.monotonic() - started
    log.debug("ffmpeg on %s done in %.2f s (%d frames)", label, elapsed, frames)
    return RunResult(args=argv, stderr="\n".join(stderr_keep), frames=frames, elapsed_s=elapsed)
