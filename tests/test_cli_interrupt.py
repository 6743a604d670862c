"""Ctrl-C in the terminal during a flow command: the installed `docfilm` stops its renders at once, keeps what was
finished, removes what was not, ends on one line with exit 130, and the next run goes on from there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_support import DOCFILM, ROOT, PrefectForTests, docfilm_cli, make_clip, user_env

from core.errors import EXIT_INTERRUPTED

pytestmark = pytest.mark.slow


def _ffmpeg_children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if "ffmpeg" in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
                found.append(int(child))
    return found


def test_ctrl_c_mid_render_stops_ffmpeg_keeps_nothing_half_done_and_exits_130(
    tmp_path: Path, prefect_for_tests: PrefectForTests
) -> None:
    home = tmp_path / "home"
    make_clip(tmp_path / "card" / "S01-01_dai.mp4", "10:00:00:00", seconds=60)
    ingested = docfilm_cli("ingest", str(tmp_path / "card"), "--json", env=prefect_for_tests.env(home))
    assert ingested.returncode == 0, ingested.stderr[-3000:]
    asset_id = json.loads(ingested.stdout)["ingested"][0]["asset_id"]

    # On docfilm's own Prefect server (as a producer runs it), in a process group of its own, as a terminal's
    # foreground job is: Ctrl-C reaches the whole group.
    prefect_for_tests.seed(home)
    render = subprocess.Popen([str(DOCFILM), "render"], env=user_env(home), cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (ffmpeg := _ffmpeg_children(render.pid)) or not list((home / "renders").glob("*/.*tmp*")):
            assert render.poll() is None, render.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the render never started"
            time.sleep(0.01)
        os.kill(ffmpeg[0], signal.SIGSTOP)  # held mid-clip, whatever this machine's speed
        os.killpg(render.pid, signal.SIGINT)
        # Not a timing: before, the clip rendered to its end first, and with the server killed by the same
        # Ctrl-C the run's last API calls retried for minutes.
        out, err = render.communicate(timeout=90)
    finally:
        if render.poll() is None:
            os.killpg(render.pid, signal.SIGKILL)
            render.wait()
    assert render.returncode == EXIT_INTERRUPTED, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("docfilm: interrupted: what was finished is kept"), err
    for noise in ("Traceback", "Crash detected", "ffmpeg failed"):
        assert noise not in err, err
    assert not Path(f"/proc/{ffmpeg[0]}").exists(), "ffmpeg was ended with the command"
    assert [p.name for p in (home / "renders").rglob("*") if p.is_file()] == [], "no half-written proxy"

    again = docfilm_cli("render", "--json", env=prefect_for_tests.env(home))
    assert again.returncode == 0, again.stderr[-3000:]
    assert [r["asset_id"] for r in json.loads(again.stdout)["rendered"]] == [asset_id]
