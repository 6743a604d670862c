"""The one vocabulary docfilm's packages share. Words for people (Vietnamese, English) live in review.labels;
these are the machine values, each defined here and nowhere else."""

from __future__ import annotations

from typing import Final, Literal, get_args

MediaKind = Literal["video", "audio", "still"]
MEDIA_KINDS: Final[tuple[MediaKind, ...]] = get_args(MediaKind)

# HDR transfer characteristics as ffmpeg names them (color_trc), with the short names used in profiles.
HdrTransfer = Literal["smpte2084", "arib-std-b67"]
HDR_TRANSFERS: Final[tuple[HdrTransfer, ...]] = get_args(HdrTransfer)
HDR_TRANSFER_BY_CODE: Final[dict[int, HdrTransfer]] = {16: "smpte2084", 18: "arib-std-b67"}  # ITU-T H.273
HDR_TRANSFER_BY_NAME: Final[dict[str, HdrTransfer]] = {"pq": "smpte2084", "hlg": "arib-std-b67"}

# A reviewer's verdict on a scene or clip; a comment carries none.
Verdict = Literal["comment", "approve", "changes-requested"]
VERDICTS: Final[tuple[Verdict, ...]] = get_args(Verdict)

# Where a scene stands after review.
ReviewState = Literal["approved", "changes-requested", "no-review"]
REVIEW_STATES: Final[tuple[ReviewState, ...]] = get_args(ReviewState)

# QC rules renders measures and flags against.
QcRule = Literal["black", "frozen", "silent", "loudness", "true_peak", "decode"]
QC_RULES: Final[tuple[QcRule, ...]] = get_args(QcRule)

# Content types of what docfilm writes and delivers, by file suffix.
CONTENT_TYPES: Final[dict[str, str]] = {
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".vtt": "text/vtt; charset=utf-8",
    ".zip": "application/zip",
    ".otio": "application/json",
}


def content_type(suffix: str) -> str:
    """Content type for a file suffix (case-insensitive), application/octet-stream when unknown."""
    return CONTENT_TYPES.get(suffix.lower(), "application/octet-stream")


# S3 error codes worth retrying (throttling, timeouts, server trouble); a bad digest never is.
TRANSIENT_S3_CODES: Final[frozenset[str]] = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed", "InternalError",
     "ServiceUnavailable", "503", "500"}
)
DIGEST_S3_CODES: Final[frozenset[str]] = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
