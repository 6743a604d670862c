"""Where review packets are written."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReviewSettings(BaseSettings):
    """Packet location (DOCFILM_HOME/packets unless DOCFILM_PACKETS_DIR) and whether a hosted copy is published."""

    model_config = SettingsConfigDict(env_prefix="DOCFILM_", extra="ignore")

    home: Path = Field(default=Path(".docfilm"), description="Data dir: ledger, renders, packets, embedded S3 data.")
    packets_dir: Path | None = Field(
        default=None,
        description="Folder receiving <film id>/index.html and <film id>.zip; default DOCFILM_HOME/packets.",
    )
    packet_hosted: bool = Field(
        default=True,
        description="Also publish the hosted packet (index.html and media in S3, presigned links; lifetime "
        "DOCFILM_S3_PRESIGN_EXPIRY_DAYS) when the packet is built by the packet flow.",
    )

    def packet_root(self) -> Path:
        """The out_root to pass to build_packet."""
        return self.packets_dir if self.packets_dir is not None else self.home / "packets"
