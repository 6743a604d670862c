"""`EmbeddedS3`: the lifecycle of one home's `weed mini` (start, reuse, stop) and the records that let
another process find it."""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from delivery.errors import EmbeddedS3Failed, EmbeddedS3PortTaken
from delivery.seaweed.health import wait_until_answering
from delivery.seaweed.ports import LOOPBACK, choose_ports, grpc_socket_paths, remove_stale_socket
from delivery.seaweed.process import find_weed, is_our_weed, log_tail, pid_alive, spawn, terminate, weed_command
from delivery.seaweed.state import (
    CREDENTIALS_SCHEMA,
    S3Credentials,
    ServerRecord,
    load_or_create_credentials,
    locked,
    read_json,
    read_ports,
    write_ports,
    write_s3_config,
)

__all__ = ["EmbeddedS3"]

log = logging.getLogger(__name__)

_START_ATTEMPTS = 3
# A clean `weed mini` stop takes 1-1.5 s here (5 s and more on a loaded machine; its gRPC servers give up
# waiting after 1 s); some stops hang far longer (seen after a crash and restart: 20 s and more). What it
# acknowledged is already written, so after this grace it is killed (SIGKILL to its process group).
STOP_GRACE_S = 10.0
# sun_path holds 108 bytes with its NUL; weed exits when a socket path does not fit.
_MAX_SOCKET_PATH = 100


class EmbeddedS3:
    """A `weed mini` S3 server for one DOCFILM_HOME; a context manager.

    `start()` launches it (or raises EmbeddedS3Failed when another live server already serves this
    home); `attach_or_start()` reuses a live one instead. Only the instance that started the server
    stops it: leaving an attached instance's context leaves the server running.
    """

    def __init__(
        self,
        home: Path,
        *,
        weed_binary: Path | None = None,
        region: str = "us-east-1",
        startup_timeout: float = 30.0,
        stop_timeout: float = STOP_GRACE_S,
        attach_timeout: float = 5.0,
    ) -> None:
        self.home = Path(home).absolute()
        self.state_dir = self.home / "s3"
        self.data_dir = self.state_dir / "data"
        self.log_path = self.state_dir / "weed.log"
        self.credentials_path = self.state_dir / "credentials.json"
        self.s3_config_path = self.state_dir / "s3-config.json"
        self.server_path = self.state_dir / "server.json"
        self.ports_path = self.state_dir / "ports.json"
        self.weed_binary = weed_binary
        self.region = region
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.attach_timeout = attach_timeout
        self.owned = False
        self.pid: int | None = None
        self.ports: dict[str, int] = {}
        self.endpoint_url: str | None = None
        self.started_in: float | None = None
        self.stopped_in: float | None = None
        self._credentials: S3Credentials | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._short_socket_dir: Path | None = None

    def __repr__(self) -> str:
        return f"EmbeddedS3(home={self.home}, endpoint={self.endpoint_url}, pid={self.pid}, owned={self.owned})"

    @property
    def credentials(self) -> S3Credentials:
        if self._credentials is None:
            raise EmbeddedS3Failed(f"embedded S3 for {self.home} is neither started nor attached")
        return self._credentials

    @property
    def access_key(self) -> str:
        return self.credentials.access_key

    @property
    def secret_key(self) -> str:
        return self.credentials.secret_key

    def log_tail(self, lines: int = 30) -> str:
        """The last `lines` lines of weed.log."""
        return log_tail(self.log_path, lines)

    # ---- starting -------------------------------------------------------------------------------

    @classmethod
    def attach_or_start(cls, home: Path, **options: Any) -> EmbeddedS3:
        """Reuse the live server of `home` (e.g. `docfilm serve`'s), or start one owned by the caller."""
        server = cls(home, **options)
        server._prepare_dirs()
        with locked(server.state_dir / "start.lock"):
            if not server._attach():
                server._start_locked()
        return server

    def start(self) -> Self:
        """Start a server for this home; EmbeddedS3Failed if it fails or one is already running."""
        self._prepare_dirs()
        with locked(self.state_dir / "start.lock"):
            record = self._live_record()
            if record is not None:
                raise EmbeddedS3Failed(
                    f"an embedded S3 (pid {record.pid}, {record.endpoint_url}) already serves "
                    f"{self.home}; use EmbeddedS3.attach_or_start"
                )
            self._start_locked()
        return self

    def _prepare_dirs(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(mode=0o700, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)

    def _live_record(self) -> ServerRecord | None:
        try:
            record = ServerRecord.read(self.server_path)
        except EmbeddedS3Failed:
            log.warning("embedded S3: ignoring unreadable %s", self.server_path)
            return None
        if record is None or not is_our_weed(record.pid, self.data_dir):
            return None
        return record

    def _attach(self) -> bool:
        """Attach to the live server of this home; False when there is none.

        A live weed that does not answer is an error, not a reason to start another: two servers on one
        data dir would corrupt it.
        """
        record = self._live_record()
        if record is None:
            return False
        endpoint = record.endpoint_url
        if read_json(self.credentials_path, CREDENTIALS_SCHEMA) is None:
            raise EmbeddedS3Failed(
                f"embedded S3 pid {record.pid} serves {self.home} but {self.credentials_path} is gone; "
                "stop it (EmbeddedS3.stop_recorded) to start afresh"
            )
        self._credentials = load_or_create_credentials(self.credentials_path)
        try:
            wait_until_answering(
                endpoint, self._credentials, self.region, timeout=self.attach_timeout, log_path=self.log_path
            )
        except EmbeddedS3Failed as exc:
            raise EmbeddedS3Failed(
                f"embedded S3 pid {record.pid} serves {self.home} but does not answer; "
                f"stop it (EmbeddedS3.stop_recorded) before starting another: {exc}"
            ) from exc
        self.pid = record.pid
        self.endpoint_url = endpoint
        self.ports = dict(record.ports)
        self.owned = False
        log.info("embedded S3: reusing pid %s at %s", self.pid, endpoint)
        return True

    def _socket_dir(self) -> Path:
        """<home>/s3, or a private temp dir when that is too long for a Unix socket path (108 bytes)."""
        if len(str(self.state_dir / "filer.sock").encode()) <= _MAX_SOCKET_PATH:
            return self.state_dir
        if self._short_socket_dir is None:
            self._short_socket_dir = Path(tempfile.mkdtemp(prefix="docfilm-s3-"))
        return self._short_socket_dir

    def _start_locked(self) -> None:
        weed = find_weed(self.weed_binary)
        self._credentials = load_or_create_credentials(self.credentials_path)
        write_s3_config(self.s3_config_path, self._credentials)
        preferred = read_ports(self.ports_path)
        for attempt in range(1, _START_ATTEMPTS + 1):
            ports = choose_ports(preferred)
            try:
                self._launch(weed, ports)
                break
            except EmbeddedS3PortTaken:
                # Another program took a port between our probe and weed's bind: new ones next time.
                preferred = None
                if attempt == _START_ATTEMPTS:
                    raise
                log.warning("embedded S3: port taken during start (attempt %d), retrying", attempt)
        assert self.pid is not None and self.endpoint_url is not None  # set by _launch
        write_ports(self.ports_path, self.ports)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        ServerRecord(self.pid, self.endpoint_url, self.ports, str(self.data_dir), started).write(self.server_path)

    def _launch(self, weed: Path, ports: dict[str, int]) -> None:
        command = weed_command(weed, self.data_dir, self.s3_config_path, self._socket_dir(), ports)
        began = time.monotonic()
        process = spawn(command, self.log_path, self.state_dir)
        endpoint = f"http://{LOOPBACK}:{ports['s3']}"
        log.info("embedded S3: started weed pid %d for %s (S3 at %s)", process.pid, self.home, endpoint)
        try:
            wait_until_answering(
                endpoint,
                self.credentials,
                self.region,
                timeout=self.startup_timeout,
                log_path=self.log_path,
                process=process,
            )
        except EmbeddedS3Failed:
            terminate(process.pid, process, self.stop_timeout)
            for path in grpc_socket_paths(ports):
                remove_stale_socket(path)
            self._remove_short_socket_dir()
            raise
        self._process = process
        self.pid = process.pid
        self.ports = dict(ports)
        self.endpoint_url = endpoint
        self.owned = True
        self.started_in = time.monotonic() - began
        log.info("embedded S3 ready at %s in %.2f s", endpoint, self.started_in)

    # ---- stopping -------------------------------------------------------------------------------

    def is_running(self) -> bool:
        """True while the server process is alive."""
        return self.pid is not None and pid_alive(self.pid)

    def stop(self) -> None:
        """Stop the server if this instance started it (SIGTERM, then SIGKILL after stop_timeout)."""
        if not self.owned or self.pid is None:
            return
        began = time.monotonic()
        terminate(self.pid, self._process, self.stop_timeout)
        self.stopped_in = time.monotonic() - began
        log.info("embedded S3 pid %d stopped in %.2f s", self.pid, self.stopped_in)
        with locked(self.state_dir / "start.lock"):
            record = None
            with contextlib.suppress(EmbeddedS3Failed):
                record = ServerRecord.read(self.server_path)
            if record is not None and record.pid == self.pid:
                self.server_path.unlink(missing_ok=True)
        self.owned = False
        self._process = None
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        paths = grpc_socket_paths(self.ports)
        local = self._short_socket_dir or self.state_dir
        paths += [local / "filer.sock", local / "s3.sock"]
        for path in paths:
            remove_stale_socket(path)
        self._remove_short_socket_dir()

    def _remove_short_socket_dir(self) -> None:
        if self._short_socket_dir is not None:
            shutil.rmtree(self._short_socket_dir, ignore_errors=True)
            self._short_socket_dir = None

    @classmethod
    def stop_recorded(cls, home: Path, *, stop_timeout: float = STOP_GRACE_S) -> bool:
        """Stop the live server recorded in <home>/s3/server.json (e.g. a `docfilm serve` left over)."""
        server = cls(home, stop_timeout=stop_timeout)
        if not server.server_path.exists():
            return False
        with locked(server.state_dir / "start.lock"):
            record = server._live_record()
            if record is None:
                return False
            terminate(record.pid, None, server.stop_timeout)
            server.server_path.unlink(missing_ok=True)
            server.ports = dict(record.ports)
            server._remove_sockets()
        return True

    def __enter__(self) -> Self:
        if self.endpoint_url is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
