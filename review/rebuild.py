"""Nothing changed means nothing done: a packet rebuild from the same inputs leaves the packet as it is.

A build's inputs are the film (storyboard), the clip records, the notes, the figures, the cut, the as-of date,
whether a hosted copy is made, and the packet's own code (templates, scripts, this package). Their key is a
SHA-256 over a canonical JSON form of all of them, in which every file the packet would take in (a proxy, a
poster, a contact sheet, a cut) stands as its size, mtime and inode, never its bytes: nothing is hashed.

After a build, the key and the build's result are kept beside the packet in `.<film id>.rebuild-key.json` (not
inside the packet, so it is neither zipped nor listed in the manifest). The next build with the same key finds
the packet, its zip and its manifest exactly as that build left them (size and mtime), and returns the kept
result instead of building: no media relinked, no file hashed, no page rendered, no zip written.

`generated_at` is not an input: a packet rebuilt from the same inputs is the same packet, generated when it
first was. A hosted build is never skipped: its links are presigned for a new expiry each time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from review.packet import PacketResult

log = logging.getLogger(__name__)

_VERSION = 1
_CODE_DIRS = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "templates")

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def key_file(out_root: Path, film_id: str) -> Path:
    return out_root / f".{film_id}.rebuild-key.json"


def _stamp(path: Path) -> list[JsonValue] | None:
    """Size, mtime and inode of a file: enough to know it is unchanged without reading it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _fields_of(value: object) -> tuple[str, ...] | None:
    """A dataclass instance's field names, None for anything else (once per class: `dataclasses.fields` is slow)."""
    kind = type(value)
    try:
        return _FIELD_NAMES[kind]
    except KeyError:
        pass
    names = None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = tuple(f.name for f in dataclasses.fields(value))
    _FIELD_NAMES[kind] = names
    return names


def _plain(value: object) -> JsonValue:
    """A canonical JSON form of a build input: models and records field by field, files by their stamp."""
    if value is None or isinstance(value, str | bool | int | float):  # most values: checked first
        return value
    if (names := _fields_of(value)) is not None:  # the clip records: before the slower ABC checks below
        return [_plain(getattr(value, name)) for name in names]
    if isinstance(value, Path):
        return {"path": str(value), "stamp": _stamp(value)}
    if isinstance(value, BaseModel):
        return value.model_dump_json()  # pydantic's own serialiser: fast and ordered by field
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=json.dumps)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _code_stamp() -> list[JsonValue]:
    """The packet's own code, by file stamps: a new template or script means a new build."""
    stamps: list[JsonValue] = []
    for folder in _CODE_DIRS:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in {".py", ".j2", ".js", ".css", ".html"}:
                st = path.stat()
                stamps.append([str(path), st.st_size, st.st_mtime_ns])
    return stamps


def input_key(**inputs: object) -> str:
    """The SHA-256 of a build's inputs (keyword arguments by name) and of the packet's code."""
    body = {"version": _VERSION, "code": _code_stamp(), "inputs": [[k, _plain(v)] for k, v in sorted(inputs.items())]}
    # Key order is the inputs' own (record fields, then insertion order): stable for the same inputs.
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), check_circular=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _outputs(result: PacketResult) -> dict[str, list[JsonValue] | None]:
    return {str(p): _stamp(p) for p in (result.path, result.manifest, result.zip)}


def _result_json(result: PacketResult) -> dict[str, JsonValue]:
    def plain(value: object) -> JsonValue:
        return str(value) if isinstance(value, Path) else _plain(value)

    return {f.name: plain(getattr(result, f.name)) for f in dataclasses.fields(result)}


def remember(out_root: Path, film_id: str, key: str, result: PacketResult) -> None:
    """Keep `key` and `result` for the next build (written whole or not at all; a failure only costs a rebuild)."""
    target = key_file(out_root, film_id)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    document = {"version": _VERSION, "key": key, "outputs": _outputs(result), "result": _result_json(result)}
    try:
        tmp.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        log.warning("could not keep the packet's build key at %s (%s); the next build will not be skipped",
                    target, exc.strerror or exc)


def forget(out_root: Path, film_id: str) -> None:
    key_file(out_root, film_id).unlink(missing_ok=True)


def unchanged(out_root: Path, film_id: str, key: str) -> PacketResult | None:
    """The kept result when the last build had this key and its outputs are untouched since; else None."""
    from review.packet import PacketResult

    try:
        document = json.loads(key_file(out_root, film_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("version") != _VERSION or document.get("key") != key:
        return None
    try:
        kept = document["result"]
        result = PacketResult(
            path=Path(kept["path"]), folder=Path(kept["folder"]), zip=Path(kept["zip"]),
            scenes=int(kept["scenes"]), assets=int(kept["assets"]), as_of=date.fromisoformat(kept["as_of"]),
            playable=int(kept["playable"]), failed=int(kept["failed"]),
            media_reused=int(kept["media_reused"]) + int(kept["media_added"]), media_added=0,
            packet_id=str(kept["packet_id"]), manifest_sha256=str(kept["manifest_sha256"]),
            ledger_revision=str(kept["ledger_revision"]), media_hashed=0, changes=int(kept["changes"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if _outputs(result) != {k: (list(v) if v is not None else None) for k, v in document.get("outputs", {}).items()}:
        return None
    return result
