"""Shared fixtures: `embedded_s3`, one real SeaweedFS for the whole session (started once, ~1 s)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from delivery.seaweed import EmbeddedS3


@dataclass
class EmbeddedS3Fixture:
    """A running embedded S3 with a ready client and an existing bucket."""

    endpoint_url: str
    access_key: str
    secret_key: str = field(repr=False)
    bucket: str
    client: S3Client
    server: EmbeddedS3
    home: Path


@pytest.fixture(scope="session")
def embedded_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedS3Fixture]:
    """A real `weed mini` under a session temp home, bucket "docfilm-test"; stopped after the session."""
    # Imported here so that test modules not using S3 do not pay for boto3.
    from delivery.client import ensure_bucket, s3_client
    from delivery.seaweed import EmbeddedS3

    home = tmp_path_factory.mktemp("s3home")
    with EmbeddedS3(home) as server:
        assert server.endpoint_url is not None
        client = s3_client(server.endpoint_url, server.access_key, server.secret_key)
        bucket = "docfilm-test"
        ensure_bucket(client, bucket, "us-east-1")
        try:
            yield EmbeddedS3Fixture(
                endpoint_url=server.endpoint_url,
                access_key=server.access_key,
                secret_key=server.secret_key,
                bucket=bucket,
                client=client,
                server=server,
                home=home,
            )
        finally:
            client.close()


# --- review: real Chromium and tiny review media (appended by the review helper) ---------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run browser tests last.

    The session's sync Playwright keeps an event loop running in the main thread, so asyncio.run() in any
    later test would fail with "cannot be called from a running event loop".
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[object]:
    """One headless Debian Chromium (playwright.sync_api.Browser) for the session; skips if not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def review_media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 1 s 320x180 H.264 + AAC faststart MP4 (GOP 5, to seek) and a JPEG poster, made with real ffmpeg."""
    import subprocess

    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    folder = tmp_path_factory.mktemp("review_media")
    proxy, poster = folder / "proxy.mp4", folder / "poster.jpg"
    quiet = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    subprocess.run(
        [*quiet, "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=1",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "5",
         "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart", str(proxy)],
        check=True, capture_output=True, timeout=60,
    )
    subprocess.run(
        [*quiet, "-f", "lavfi", "-i", "testsrc=size=320x180:rate=1", "-frames:v", "1", str(poster)],
        check=True, capture_output=True, timeout=60,
    )
    return proxy, poster
