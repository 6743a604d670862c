"""Reviewers' notes: the file a packet exports, its validation, and each scene's review state.

A notes file is self-describing JSON written by the packet's page:

    {"schema": "docfilm.review-notes", "version": 1, "film": "<film id>", "packet_id": "...",
     "manifest_sha256": "<hex>", "reviewer": "...", "exported_at": "<ISO 8601 UTC>",
     "notes": [{"id", "scene", "asset", "cut", "verdict", "text", "frame", "timecode", "fps", "written_at",
                "packet_id"}, ...],
     "integrity": {"algorithm": "sha256", "digest": "<hex>"}}

`integrity.digest` is the SHA-256 of the canonical JSON of everything but `integrity` (keys sorted, no
spaces, UTF-8, non-ASCII kept as is: `canonical_json`). It shows whether the file is whole as exported, so a
file damaged or changed after export is refused; it is not a signature and proves nothing about who wrote it.
`frame` counts frames from the clip's first frame at the rate the packet plays it (`fps`: its own up to 60 fps,
above that its timecode's base rate, as its proxy; see core.timecode) and `timecode` is the source timecode of
that frame; both are null for a note on a whole scene. A note taken on the film (the review cut at the top of the
packet) names the cut version's SHA-256 in `cut` (absent or null otherwise), has no `asset`, and its `frame`,
`timecode` and `fps` are the cut's: frames from the cut's first, the record timecode, the cut's rate. Its scene,
shot, clip and source timecode are resolved from that cut version (`editorial.resolve`) at import.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from core.timecode import parse_rate, review_rate, source_timecode
from core.vocabulary import ReviewState, Verdict
from review.errors import (
    NotesConflict,
    NotesForAnotherFilm,
    NotesInvalid,
    NotesNotJson,
    NotesTampered,
    NotesUnknownTarget,
    NotesUnreadable,
    NotesWrongSchema,
)
from review.records import ClipRecord

if TYPE_CHECKING:
    from editorial.resolve import CutMap
    from storyboard.models import Film

NOTES_SCHEMA = "docfilm.review-notes"
NOTES_VERSION = 1
MAX_NOTES_FILE_BYTES = 20 * 1024 * 1024
_HEX64 = r"^[0-9a-f]{64}$"
_TIMECODE = r"^\d{2}:\d{2}:\d{2}[:;]\d{2,3}$"


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)


class NoteEntry(_Strict):
    """One note as the packet wrote it."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{7,63}$", description="Unique id made by the browser.")
    scene: str = Field(min_length=1, max_length=32, description="Scene id the note is about.")
    asset: str | None = Field(max_length=64, description="Clip (asset id) the note is about; null for the scene.")
    cut: str | None = Field(None, pattern=_HEX64, description="SHA-256 of the cut version a note on the film was "
                            "taken on; null (or absent) for a note on a scene or a clip.")
    verdict: Verdict
    text: str = Field(max_length=20_000)
    frame: int | None = Field(ge=0, description="Frame from the clip's start, at the clip's rate.")
    timecode: str | None = Field(pattern=_TIMECODE, description="Source timecode of that frame.")
    fps: str | None = Field(pattern=r"^\d{1,6}(/\d{1,6})?$", description="The clip's rate, e.g. 25/1.")
    written_at: AwareDatetime
    packet_id: str = Field(min_length=1, max_length=200, description="Packet the note was written in.")


class Integrity(_Strict):
    """Digest of the file's canonical content."""

    algorithm: Literal["sha256"]
    digest: str = Field(pattern=_HEX64)


class NotesFile(_Strict):
    """A whole exported notes file."""

    schema_tag: Literal["docfilm.review-notes"] = Field(alias="schema")
    version: Literal[1]
    film: str = Field(min_length=1, max_length=128)
    packet_id: str = Field(min_length=1, max_length=200)
    manifest_sha256: str = Field(pattern=_HEX64)
    reviewer: str = Field(min_length=1, max_length=200)
    exported_at: AwareDatetime
    notes: list[NoteEntry] = Field(max_length=100_000)
    integrity: Integrity


@dataclass(frozen=True)
class ReviewNote:
    """A note as the ledger keeps it and the packet and status show it (text NFC)."""

    note_id: str
    film_id: str
    scene_id: str
    asset_id: str | None
    reviewer: str
    verdict: str  # one of core.vocabulary.VERDICTS (the ledger stores it as text)
    text: str
    frame: int | None
    timecode: str | None
    fps: str | None
    written_at: datetime
    packet_id: str
    manifest_sha256: str
    source_file: str
    file_sha256: str

    def same_note(self, other: ReviewNote) -> bool:
        """Whether two records say the same thing (the file they came in does not matter)."""
        fields = ("note_id", "film_id", "scene_id", "asset_id", "reviewer", "verdict", "text", "frame",
                  "timecode", "written_at")
        return all(getattr(self, f) == getattr(other, f) for f in fields)


def canonical_json(value: object) -> bytes:
    """Keys sorted, no whitespace, UTF-8 with non-ASCII as is: the bytes the integrity digest covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def notes_digest(document: Mapping[str, object]) -> str:
    """Hex SHA-256 of a notes document's canonical JSON without its `integrity` member."""
    return hashlib.sha256(canonical_json({k: v for k, v in document.items() if k != "integrity"})).hexdigest()


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _field_of(error: ErrorDetails) -> str:
    parts: list[str] = []
    for part in error.get("loc", ()):
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        else:
            parts.append(str(part))
    return ".".join(parts) or "(file)"


def read_notes_file(path: Path) -> tuple[NotesFile, str]:
    """Parse and check a notes file on its own; returns it with the file's SHA-256.

    Raises a NotesRefused subclass naming the file and the field: unreadable or too large, not JSON,
    not a docfilm notes file (schema tag or version), digest mismatch (damaged or changed after export), or a field of
    the wrong type or shape.
    """
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_NOTES_FILE_BYTES:
            raise NotesUnreadable(name, "(file)", f"{size} bytes; a notes file is at most {MAX_NOTES_FILE_BYTES}")
        raw = path.read_bytes()
    except OSError as exc:
        raise NotesUnreadable(name, "(file)", exc.strerror or str(exc)) from exc
    file_sha256 = hashlib.sha256(raw).hexdigest()
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NotesNotJson(name, "(file)", f"not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise NotesNotJson(name, "(file)", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(document, dict):
        raise NotesWrongSchema(name, "(file)", f"expected a JSON object, found {type(document).__name__}")
    if document.get("schema") != NOTES_SCHEMA:
        raise NotesWrongSchema(name, "schema", f"expected {NOTES_SCHEMA!r}, found {document.get('schema')!r}")
    if document.get("version") != NOTES_VERSION:
        raise NotesWrongSchema(
            name, "version", f"expected {NOTES_VERSION}, found {document.get('version')!r} (made by another docfilm?)"
        )
    integrity = document.get("integrity")
    claimed = integrity.get("digest") if isinstance(integrity, dict) else None
    if not isinstance(claimed, str):
        raise NotesInvalid(name, "integrity.digest", "missing; expected the SHA-256 the packet wrote")
    try:
        actual = notes_digest(document)
    except (ValueError, UnicodeEncodeError) as exc:
        raise NotesInvalid(name, "(file)", f"cannot be put in canonical form: {exc}") from exc
    if actual != claimed:
        raise NotesTampered(
            name, "integrity.digest",
            f"the content's SHA-256 is {actual}, the file says {claimed}: the file does not match its digest, "
            "so it was damaged or changed after export; export it again from the packet",
        )
    try:
        notes_file = NotesFile.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise NotesInvalid(name, _field_of(first), str(first.get("msg", "invalid"))) from exc
    if not notes_file.reviewer.strip():
        raise NotesInvalid(name, "reviewer", "empty; expected the reviewer's name")
    return notes_file, file_sha256


def _check_film_note(note: NoteEntry, where: str, source_name: str, film: Film, cuts: Mapping[str, CutMap]) -> str:
    """A note on the film: its cut version known, its record timecode the one its frame gives; its scene."""
    from editorial.resolve import resolve

    cut = cuts.get(note.cut or "")
    if cut is None:
        raise NotesUnknownTarget(source_name, f"{where}.cut", f"no cut version {note.cut} of film {film.film.id} "
                                 "in the ledger")
    if note.asset is not None:
        raise NotesInvalid(source_name, f"{where}.asset", "a note on the film names no clip")
    if note.frame is None or note.fps is None or parse_rate(note.fps) != cut.fps:
        raise NotesInvalid(source_name, f"{where}.fps", f"{note.fps!r}; cut v{cut.version} runs at {cut.fps}")
    resolution = resolve(cut, note.frame)
    if resolution is None or note.timecode != resolution.record_timecode:
        expected = resolution.record_timecode if resolution else f"past its end ({cut.frames} frames)"
        raise NotesInvalid(source_name, f"{where}.timecode",
                           f"{note.timecode!r}; frame {note.frame} of cut v{cut.version} is {expected}")
    if resolution.scene not in {s.id for s in film.scenes}:
        raise NotesUnknownTarget(source_name, f"{where}.frame",
                                 f"frame {note.frame} of cut v{cut.version} is in no scene of film {film.film.id}")
    return resolution.scene


def check_notes(
    notes_file: NotesFile, film: Film, clips: Iterable[ClipRecord], source_name: str, file_sha256: str,
    cuts: Mapping[str, CutMap] | None = None,
) -> list[ReviewNote]:
    """The file's notes as ledger records, once every one is shown to belong to this film and ledger.

    Refused (nothing returned) when the file is for another film, a note names a scene not in the film or a
    clip not in the ledger, a clip note's timecode is not the one its frame gives, or an id is repeated. A note
    on the film is checked against its cut version in `cuts` (by SHA-256) and takes the scene under its frame.
    """
    if notes_file.film != film.film.id:
        raise NotesForAnotherFilm(
            source_name, "film", f"written for film {notes_file.film!r}; this ledger is for {film.film.id!r}"
        )
    scene_ids = {scene.id for scene in film.scenes}
    by_id = {clip.asset_id: clip for clip in clips}
    seen: set[str] = set()
    out: list[ReviewNote] = []
    for n, note in enumerate(notes_file.notes):
        where = f"notes[{n}]"
        if note.id in seen:
            raise NotesInvalid(source_name, f"{where}.id", f"{note.id!r} appears twice")
        seen.add(note.id)
        if note.scene not in scene_ids:
            raise NotesUnknownTarget(source_name, f"{where}.scene", f"no scene {note.scene!r} in film {film.film.id}")
        scene_id = note.scene
        if note.cut is not None:
            scene_id = _check_film_note(note, where, source_name, film, cuts or {})
        elif note.asset is not None:
            clip = by_id.get(note.asset)
            if clip is None:
                raise NotesUnknownTarget(source_name, f"{where}.asset", f"no clip {note.asset!r} in the ledger")
            if note.frame is not None:
                # Frames are counted at the rate the packet played the clip (its proxy's, ≤ 60 fps).
                clip_rate = parse_rate(clip.fps)
                reviewed = review_rate(clip_rate) if clip_rate is not None else None
                if note.fps is None or reviewed is None or parse_rate(note.fps) != reviewed:
                    raise NotesInvalid(source_name, f"{where}.fps",
                                       f"{note.fps!r}; clip {clip.asset_id} is reviewed at {reviewed or clip.fps}")
                expected = source_timecode(clip.start_timecode, note.frame, reviewed)
                if note.timecode != expected:
                    raise NotesInvalid(
                        source_name, f"{where}.timecode",
                        f"{note.timecode!r}; frame {note.frame} of clip {clip.asset_id} is {expected}",
                    )
        elif note.frame is not None or note.timecode is not None:
            raise NotesInvalid(source_name, f"{where}.frame", "a timecode needs a clip (asset)")
        out.append(
            ReviewNote(
                note_id=note.id,
                film_id=notes_file.film,
                scene_id=scene_id,
                asset_id=note.asset,
                reviewer=_nfc(notes_file.reviewer.strip()),
                verdict=note.verdict,
                text=_nfc(note.text),
                frame=note.frame,
                timecode=note.timecode,
                fps=note.fps,
                written_at=note.written_at,
                packet_id=note.packet_id,
                manifest_sha256=notes_file.manifest_sha256,
                source_file=source_name,
                file_sha256=file_sha256,
            )
        )
    return out


def new_notes(incoming: Iterable[ReviewNote], stored: Iterable[ReviewNote], source_name: str) -> list[ReviewNote]:
    """The incoming notes not yet stored; NotesConflict when a stored id now says something else."""
    known = {note.note_id: note for note in stored}
    fresh: list[ReviewNote] = []
    for note in incoming:
        before = known.get(note.note_id)
        if before is None:
            fresh.append(note)
        elif not before.same_note(note):
            raise NotesConflict(
                source_name, "notes.id",
                f"note {note.note_id} was imported before from {before.source_file} with other content",
            )
    return fresh


def scene_review_states(notes: Iterable[ReviewNote]) -> dict[str, ReviewState]:
    """Each scene's review state: "changes-requested", "approved" or "no-review" (scenes without notes absent).

    Per reviewer only their latest verdict on the scene counts (a note on the scene or on one of its clips;
    comments carry no verdict). The scene asks for changes when any reviewer's latest verdict does, and is
    approved when every reviewer who gave a verdict approved it.
    """
    latest: dict[tuple[str, str], ReviewNote] = {}
    scenes: set[str] = set()
    for note in notes:
        scenes.add(note.scene_id)
        if note.verdict == "comment":
            continue
        key = (note.scene_id, note.reviewer.casefold())
        current = latest.get(key)
        if current is None or (note.written_at, note.note_id) > (current.written_at, current.note_id):
            latest[key] = note
    states: dict[str, ReviewState] = dict.fromkeys(scenes, "no-review")
    for (scene_id, _), note in sorted(latest.items()):
        if note.verdict == "changes-requested":
            states[scene_id] = "changes-requested"
        elif states[scene_id] != "changes-requested":
            states[scene_id] = "approved"
    return states


def notes_by_scene(notes: Iterable[ReviewNote]) -> dict[str, list[ReviewNote]]:
    """Notes grouped by scene, oldest first."""
    out: dict[str, list[ReviewNote]] = {}
    for note in sorted(notes, key=lambda n: (n.written_at, n.note_id)):
        out.setdefault(note.scene_id, []).append(note)
    return out
