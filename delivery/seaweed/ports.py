"""Loopback ports for `weed mini`, and the sockets it listens on or leaves behind.

Every port `weed mini` opens is an explicit loopback port chosen free at start: master, volume, filer, S3
and admin HTTP, each with its gRPC port at HTTP+10000 (the mini worker dials the admin at HTTP+10000
whatever -admin.port.grpc says).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import stat
from pathlib import Path

from delivery.errors import EmbeddedS3Failed

__all__ = [
    "GRPC_OFFSET",
    "LOOPBACK",
    "SERVICES",
    "choose_ports",
    "grpc_socket_paths",
    "listening_sockets",
    "remove_stale_socket",
]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
GRPC_OFFSET = 10_000
SERVICES = ("master", "volume", "filer", "s3", "admin")
# HTTP ports are drawn so that their gRPC ports (port+10000) stay below the kernel's ephemeral range (32768+):
# an outgoing connection of any program on the machine can take an ephemeral port between our probe and weed's
# bind (seen under load: "bind: address already in use" on a gRPC port of a restart).
_PORT_RANGE = (20_000, 22_760)


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


def choose_ports(preferred: dict[str, int] | None) -> dict[str, int]:
    """HTTP port per service, each with port and port+10000 free; `preferred` reused when all are free."""
    if preferred and set(preferred) == set(SERVICES):
        ports = list(preferred.values())
        if len(set(ports)) == len(ports) and all(_port_free(p) and _port_free(p + GRPC_OFFSET) for p in ports):
            return dict(preferred)
        log.warning("embedded S3: ports %s recorded earlier are busy, choosing new ones", preferred)
    chooser = random.SystemRandom()
    chosen: dict[str, int] = {}
    taken: set[int] = set()
    for service in SERVICES:
        for _ in range(200):
            port = chooser.randrange(*_PORT_RANGE)
            if {port, port + GRPC_OFFSET} & taken:
                continue
            if _port_free(port) and _port_free(port + GRPC_OFFSET):
                chosen[service] = port
                taken |= {port, port + GRPC_OFFSET}
                break
        else:
            raise EmbeddedS3Failed(
                f"no free loopback port pair in {_PORT_RANGE[0]}..{_PORT_RANGE[1]} for the embedded S3 {service} "
                "service; free some ports or set DOCFILM_S3_ENDPOINT_URL to another S3"
            )
    return chosen


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


def grpc_socket_paths(ports: dict[str, int]) -> list[Path]:
    """The /tmp sockets `weed mini` makes for its gRPC ports (paths hard-coded in weed)."""
    return [Path(f"/tmp/seaweedfs-{service}-grpc-{port + GRPC_OFFSET}.sock") for service, port in ports.items()]


def remove_stale_socket(path: Path) -> None:
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
