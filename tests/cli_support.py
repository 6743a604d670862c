"""Helpers for tests that run the installed `docfilm` as a user does: a clean environment, tiny clips, small films."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import yaml

DOCFILM = Path(sys.executable).parent / "docfilm"
ROOT = Path(__file__).resolve().parent.parent


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user who set none of docfilm's, Prefect's or AWS's settings, plus `extra`.

    This runner's own such settings never reach the command: a PREFECT_HOME or DOCFILM_S3_ENDPOINT_URL left in
    the environment (by a shell, or by a test that ran prepare_prefect_env in-process) changes what is tested.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DOCFILM_", "AWS_"))}
    return env | {"DOCFILM_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"} | extra


def docfilm_cli(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run the installed `docfilm` with `env` (build it with user_env) and capture its output."""
    return subprocess.run([str(DOCFILM), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)


def docfilm_in_process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The same command as docfilm_cli, run by the installed script's own app (flows.cli) inside this process:
    `env`'s docfilm, Prefect and AWS settings and no others, the same cwd, stdout and stderr apart, and the exit
    code the app's error map chose. A bug is not turned into an exit code: its exception fails the test.

    For tests whose point is what a command computes, called many times (each `docfilm` start costs some 2 s of
    CPU); the installed script itself is run as a subprocess by docfilm_cli elsewhere.
    """
    from typer.testing import CliRunner

    from flows.cli import app

    prefixes = ("PREFECT_", "DOCFILM_", "AWS_")
    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith(prefixes)}
    overrides |= {k: v for k, v in env.items() if k.startswith(prefixes)}
    with contextlib.chdir(ROOT):
        result = CliRunner().invoke(app, list(args), env=overrides, catch_exceptions=False)
    return subprocess.CompletedProcess(["docfilm", *args], result.exit_code, result.stdout, result.stderr)


def assert_no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    """A known failure ends with a message, never a traceback (README exit codes; issue 9, item 3)."""
    assert "Traceback" not in p.stderr + p.stdout, p.stderr[-3000:]


def make_clip(path: Path, start_timecode: str, seconds: float = 1) -> Path:
    """A camera-like H.264 + AAC MP4 of 320x180 at 25 fps with a start timecode, made by real ffmpeg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=1000:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
         "-c:a", "aac", "-b:a", "64k", "-timecode", start_timecode, "-shortest", str(path)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return path


# A small film's one scene is planned at 8 s (the bundled S01: 135 s). Its review cut renders every planned
# frame (a title card, then each shot's share: black after a short take, a slate for a missing one), and the
# demo test plays the cut to its end in Chromium: 137 s of video at the proxy size rendered and played per cut.
# 200 frames keep a share (67 frames) longer than a 2 s take, so black still fills the rest of a shot.
SMALL_FILM_PLANNED_FRAMES = 200


def small_film(path: Path, *, film_id: str, scene_id: str) -> Path:
    """A valid storyboard with the bundled film's first scene only, renamed: film `film_id`, scene `scene_id`,
    planned at SMALL_FILM_PLANNED_FRAMES."""
    from storyboard.loader import bundled_film_path

    doc = yaml.safe_load(bundled_film_path().read_text(encoding="utf-8"))
    scene = doc["scenes"][0]
    old = scene["id"]
    scene["id"] = scene_id
    scene["planned_frames"] = SMALL_FILM_PLANNED_FRAMES
    for shot in scene["shots"]:
        shot["id"] = shot["id"].replace(old, scene_id, 1)
    doc["scenes"] = [scene]
    doc["film"]["id"] = film_id
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    # The film's facts come from the facts files it includes: they travel with it.
    shutil.copytree(bundled_film_path().parent / "facts", path.parent / "facts", dirs_exist_ok=True)
    return path


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released: connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PrefectForTests:
    """The session's Prefect API server, and a copy of the empty database it migrated."""

    api_url: str
    migrated_db: Path

    def seed(self, docfilm_home: Path) -> None:
        """Give a DOCFILM_HOME the migrated database where docfilm's own Prefect server keeps it (README:
        DOCFILM_HOME/prefect), so its server starts without migrating (several seconds a start)."""
        folder = docfilm_home / "prefect"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.migrated_db, folder / "prefect.db")

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """user_env for a command that runs its flows on this server (README: "Set PREFECT_API_URL to use a
        running server instead"), as deployments do: no server start of its own."""
        return user_env(home, PREFECT_API_URL=self.api_url, **extra)


@dataclass(frozen=True)
class CliPipeline:
    """A DOCFILM_HOME where `docfilm run` took two tiny clips through ingest, render, upload and packet."""

    home: Path
    card: Path
    env: dict[str, str]
    run: subprocess.CompletedProcess[str]


def stop_process(process: subprocess.Popen[Any], sig: int, timeout: float) -> None:
    """Ask a process to stop with `sig`, as a user would; kill it only if it is still there after `timeout`."""
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
