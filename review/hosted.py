"""The hosted copy of a packet: the same page with every media link a presigned URL, and its object keys.

Review signs nothing itself: the caller (the packet flow) passes a `HostedLinks` whose `sign` turns a
packet file name into a URL (a presigned s3v4 GET of `hosted_key(film_id, name)`), valid until `expires`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from core.vocabulary import content_type

HOSTED_PREFIX = "packets"


@dataclass(frozen=True)
class HostedLinks:
    """How the hosted page links packet file `name`: `sign(name)` gives its URL, valid until `expires` (aware).

    `stored` maps the SHA-256 (hex) of media already in the bucket (the proxies/ objects a render worker put
    there) to a URL for that object: the hosted page links it, and the media is not stored a second time.
    """

    sign: Callable[[str], str]
    expires: datetime
    stored: Mapping[str, str] = field(default_factory=dict)

    def url(self, name: str, sha256: str | None = None) -> str:
        """The hosted URL of packet file `name` whose bytes have `sha256`: the stored object's, else its own."""
        return self.stored.get(sha256 or "") or self.sign(name)


def hosted_key(film_id: str, name: str) -> str:
    """Object key of packet file `name` (e.g. "media/x.mp4") in the hosted copy of `film_id`'s packet."""
    return f"{HOSTED_PREFIX}/{film_id}/{name}"


def hosted_content_type(name: str) -> str:
    """The Content-Type a hosted packet file is stored with, so a browser plays or shows it from its URL."""
    return content_type(PurePosixPath(name).suffix)


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL, for the page's Content-Security-Policy; None otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"
