"""The embedded store's files under <home>/s3: credentials, SeaweedFS identities, records, and the start lock.

Every file is written atomically and private (0600) from its creation on, in a 0700 directory. Each record
names its schema, so an unexpected file is refused rather than misread.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from delivery.errors import EmbeddedS3Failed

__all__ = [
    "CREDENTIALS_SCHEMA",
    "PORTS_SCHEMA",
    "SERVER_SCHEMA",
    "S3Credentials",
    "ServerRecord",
    "load_or_create_credentials",
    "locked",
    "read_json",
    "read_ports",
    "write_ports",
    "write_private",
    "write_s3_config",
]

log = logging.getLogger(__name__)

CREDENTIALS_SCHEMA = "docfilm.s3-credentials.1"
SERVER_SCHEMA = "docfilm.s3-server.1"
PORTS_SCHEMA = "docfilm.s3-ports.1"


@dataclass(frozen=True)
class S3Credentials:
    """An access/secret key pair; the secret is left out of repr."""

    access_key: str
    secret_key: str = field(repr=False)

    @classmethod
    def generate(cls) -> S3Credentials:
        return cls(access_key="DF" + secrets.token_urlsafe(15), secret_key=secrets.token_urlsafe(32))


@dataclass(frozen=True)
class ServerRecord:
    """server.json: the running server of a home, so that other processes reuse it (no secret in it)."""

    pid: int
    endpoint_url: str
    ports: dict[str, int]
    data_dir: str
    started: str

    @classmethod
    def read(cls, path: Path) -> ServerRecord | None:
        """The record at `path`; None when there is none; EmbeddedS3Failed when it is unusable."""
        data = read_json(path, SERVER_SCHEMA)
        if data is None:
            return None
        try:
            return cls(
                pid=int(data["pid"]),
                endpoint_url=str(data["endpoint_url"]),
                ports={str(k): int(v) for k, v in dict(data.get("ports") or {}).items()},
                data_dir=str(data.get("data_dir", "")),
                started=str(data.get("started", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddedS3Failed(f"{path} lacks a usable {exc}; remove it") from exc

    def write(self, path: Path) -> None:
        write_private(path, json.dumps({"schema": SERVER_SCHEMA, **asdict(self)}, indent=2) + "\n")


def read_ports(path: Path) -> dict[str, int] | None:
    """The HTTP port per service chosen on an earlier start, or None."""
    data = read_json(path, PORTS_SCHEMA)
    if data is None:
        return None
    try:
        return {str(k): int(v) for k, v in dict(data["ports"]).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise EmbeddedS3Failed(f"{path} lacks usable ports ({exc}); remove it") from exc


def write_ports(path: Path, ports: dict[str, int]) -> None:
    write_private(path, json.dumps({"schema": PORTS_SCHEMA, "ports": ports}, indent=2) + "\n")


def write_private(path: Path, content: str) -> None:
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


def read_json(path: Path, schema: str) -> dict[str, Any] | None:
    """The JSON object at `path` when it names `schema`; None when the file is missing."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EmbeddedS3Failed(f"{path} is unreadable or not JSON ({type(exc).__name__}); remove it") from exc
    if not isinstance(data, dict) or data.get("schema") != schema:
        raise EmbeddedS3Failed(f"{path} is not a {schema} file; remove it")
    return data


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created 0600): one process at a time starts or stops a home's server."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def load_or_create_credentials(path: Path) -> S3Credentials:
    """The home's key pair, generated on first use and kept, so presigned links outlive a restart."""
    data = read_json(path, CREDENTIALS_SCHEMA)
    if data is None:
        credentials = S3Credentials.generate()
        payload = {
            "schema": CREDENTIALS_SCHEMA,
            "access_key": credentials.access_key,
            "secret_key": credentials.secret_key,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        write_private(path, json.dumps(payload, indent=2) + "\n")
        log.info("embedded S3: generated credentials in %s", path)
        return credentials
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("embedded S3: %s had mode %o; tightening to 0600", path, mode)
        os.chmod(path, 0o600)
    try:
        return S3Credentials(access_key=str(data["access_key"]), secret_key=str(data["secret_key"]))
    except KeyError as exc:
        raise EmbeddedS3Failed(f"{path} lacks {exc}; remove it to generate new credentials") from exc


def write_s3_config(path: Path, credentials: S3Credentials) -> None:
    """SeaweedFS's identity file: the one docfilm identity, with every action on every bucket."""
    identity = {
        "name": "docfilm",
        "credentials": [{"accessKey": credentials.access_key, "secretKey": credentials.secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    write_private(path, json.dumps({"identities": [identity]}, indent=2) + "\n")
