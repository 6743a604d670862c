"""Settings of the render farm (env prefix DOCFILM_FARM_), the same on the planner and on every worker."""

from __future__ import annotations

import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FarmSettings(BaseSettings):
    """How `render --farm` submits work and how a worker holds it."""

    model_config = SettingsConfigDict(env_prefix="DOCFILM_FARM_", extra="ignore")

    worker: str | None = Field(
        None, description="This worker's name in leases and in `show` (default the host name); `farm local` names "
        "its workers farm-1, farm-2, …")
    pool: str = Field("docfilm-farm", description="The process work pool the render-asset deployment runs on.")
    deployment: str = Field("render-asset/render-asset",
                            description="FLOW/DEPLOYMENT that renders assets on the farm (prefect.yaml).")
    lease_seconds: float = Field(
        30.0, ge=2.0, le=60.0,
        description="A worker's lease on a clip lasts this long unless renewed (heartbeat every third of it): a "
        "killed worker's clip is rendered by another after at most this long.")
    batch: int = Field(
        0, ge=0, le=1000,
        description="Assets per flow run; 0 chooses an even share per online worker (one flow-run process start "
        "each). Flow runs through with their own assets take those queued for runs not started yet.")
    attempts: int = Field(3, ge=1, le=20, description="Flow runs tried per asset before `render --farm` reports it "
                          "failed (a worker that cannot reach S3 or the database gives its assets back).")
    poll_seconds: float = Field(
        0.25, gt=0.0, le=30.0,
        description="How often `render --farm` reads its leases (progress, and the end of the run: one query); "
        "flow-run states from the Prefect API at most once a second.")
    host_limit: int = Field(
        0, ge=0, le=256,
        description="`farm local`: ffmpeg renders at once on this host, as the Prefect global concurrency limit "
        "`ffmpeg-<host>` that every render-asset run on the host takes (create it yourself on a real farm); 0 "
        "makes none, and each worker's --limit caps it.")

    def worker_name(self) -> str:
        return self.worker or socket.gethostname()


def host_limit_name(host: str | None = None) -> str:
    """The Prefect global concurrency limit capping ffmpeg on one machine."""
    return f"ffmpeg-{host or socket.gethostname()}"
