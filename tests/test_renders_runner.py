"""The ffmpeg runner with the real binary: commits on success only, reports progress, kills on timeout."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from renders.errors import FfmpegFailed, RenderTimeout
from renders.runner import run_ffmpeg, run_flags, temp_path
from renders.settings import RendersSettings
from renders.tools import ffmpeg_exe

pytestmark = pytest.mark.slow


SETTINGS = RendersSettings()  # read once, as a command does


def lavfi_args(out: Path, frames: int | None = 10, extra: list[str] | None = None) -> list[str]:
    source = "testsrc2=size=160x90:rate=25" + ("" if frames is None else f":duration={frames / 25}")
    return [
        ffmpeg_exe(SETTINGS), "-f", "lavfi", "-i", source, *(extra or []),
        "-c:v", "libx264", "-preset", "ultrafast", "-f", "mp4", str(temp_path(out)),
    ]  # fmt: skip


def test_success_renames_the_temp_and_reports_progress(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "clip.mp4"
    seen: list[int] = []
    with caplog.at_level(logging.DEBUG, logger="renders.runner"):
        result = run_ffmpeg(lavfi_args(out), [(temp_path(out), out)], timeout_s=60, on_progress=seen.append)
    assert out.stat().st_size > 0
    assert not temp_path(out).exists()
    assert seen and seen == sorted(seen) and seen[-1] == 10
    assert result.frames == 10 and result.stderr == ""
    assert result.args[1 : 1 + len(run_flags())] == run_flags()
    assert any("-progress pipe:1" in record.getMessage() and str(temp_path(out)) in record.getMessage()
               for record in caplog.records)  # fmt: skip


def test_failure_raises_with_stderr_and_keeps_the_previous_final(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"previous good render")
    with pytest.raises(FfmpegFailed) as caught:
        run_ffmpeg(lavfi_args(out, extra=["-no-such-option", "1"]), [(temp_path(out), out)], label="clip")
    assert caught.value.returncode != 0
    assert "no-such-option" in caught.value.stderr_tail
    assert "clip" in str(caught.value)
    assert out.read_bytes() == b"previous good render"
    assert not temp_path(out).exists()


def test_timeout_kills_ffmpeg_and_removes_the_temp(tmp_path: Path) -> None:
    out = tmp_path / "endless.mp4"
    started = time.monotonic()
    with pytest.raises(RenderTimeout, match="1 s"):
        run_ffmpeg(lavfi_args(out, frames=None), [(temp_path(out), out)], timeout_s=1, label="endless")
    assert time.monotonic() - started < 15
    assert list(tmp_path.iterdir()) == []


def test_exception_from_progress_callback_stops_ffmpeg_and_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "cancelled.mp4"

    def cancel(frames: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_ffmpeg(lavfi_args(out, frames=None), [(temp_path(out), out)], timeout_s=30, on_progress=cancel)
    assert list(tmp_path.iterdir()) == []


def test_failed_validation_leaves_no_final(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"

    def reject() -> None:
        assert temp_path(out).stat().st_size > 0  # validation sees the finished temp
        raise ValueError("not what was promised")

    with pytest.raises(ValueError, match="promised"):
        run_ffmpeg(lavfi_args(out), [(temp_path(out), out)], validate=reject)
    assert list(tmp_path.iterdir()) == []


def test_an_output_ffmpeg_never_wrote_is_a_failure(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    forgotten = tmp_path / "poster.jpg"
    with pytest.raises(FfmpegFailed, match="poster.jpg"):
        run_ffmpeg(lavfi_args(out), [(temp_path(forgotten), forgotten), (temp_path(out), out)])
    assert list(tmp_path.iterdir()) == []


def test_temp_must_sit_next_to_its_final(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="same folder"):
        run_ffmpeg([ffmpeg_exe(SETTINGS)], [(tmp_path / "a" / ".x.tmp.mp4", tmp_path / "x.mp4")])


def test_a_held_lock_makes_the_run_busy_and_touches_nothing(tmp_path: Path) -> None:
    import fcntl
    import os

    from renders.errors import RenderBusy
    from renders.runner import output_lock

    out = tmp_path / "clip.mp4"
    temp_path(out).write_bytes(b"another render's half-written temp")
    lock = tmp_path / ".clip.lock"
    with output_lock(lock, "clip") as fd:
        assert fd is not None and lock.exists()
        with pytest.raises(RenderBusy, match="another process"):
            run_ffmpeg(lavfi_args(out), [(temp_path(out), out)], lock=lock, label="clip")
        assert temp_path(out).read_bytes() == b"another render's half-written temp"
        other = os.open(lock, os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(other)
    assert not lock.exists()

    scratch = tmp_path / ".clip.qc.txt"
    scratch.write_text("measurements")
    run_ffmpeg(lavfi_args(out), [(temp_path(out), out)], lock=lock, scratch=[scratch])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # lock and scratch gone
