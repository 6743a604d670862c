"""Reviewers' notes files: validation (each way a file is refused), the ledger import, review states."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from review_ledger import LedgerClip, ledger_workspace
from typer.testing import CliRunner

from core.timecode import source_timecode
from review.errors import (
    NotesConflict,
    NotesForAnotherFilm,
    NotesInvalid,
    NotesNotJson,
    NotesRefused,
    NotesTampered,
    NotesUnknownTarget,
    NotesWrongSchema,
)
from review.notes import (
    ReviewNote,
    canonical_json,
    check_notes,
    new_notes,
    notes_digest,
    read_notes_file,
    scene_review_states,
)
from review.records import ClipRecord
from storyboard.loader import load_film
from storyboard.models import Film


@pytest.fixture(scope="module")
def film() -> Film:
    return load_film()


def clip(asset_id: str, scene_id: str, start: str = "10:00:00:00", fps: str = "25/1") -> ClipRecord:
    return ClipRecord(
        asset_id=asset_id, name=f"{asset_id}.mov", scene_id=scene_id, shot_id=None, kind="video",
        duration_frames=250, fps=fps, width=1920, height=1080, rotation=0, start_timecode=start,
        sha256=asset_id.ljust(64, "0"), proxy=None, poster=None, proxy_state=None, proxy_reason=None,
    )


def note(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": "0f8e4a2c-1111-4222-8333-444455556666", "scene": "S01", "asset": "clipA",
        "verdict": "changes-requested", "text": "Thay cảnh này <b>ngay</b>", "frame": 15, "timecode": "10:00:00:15",
        "fps": "25/1", "written_at": "2019-05-22T03:04:05.678Z", "packet_id": "can-tho-xiv-20190520T093000Z-abcd1234",
    }
    entry.update(changes)
    return entry


def document(notes: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": "docfilm.review-notes", "version": 1, "film": "can-tho-xiv",
        "packet_id": "can-tho-xiv-20190520T093000Z-abcd1234", "manifest_sha256": "ab" * 32,
        "reviewer": "Nguyễn Văn Bình", "exported_at": "2019-05-22T04:00:00.000Z", "notes": notes,
    }
    doc.update(changes)
    doc["integrity"] = {"algorithm": "sha256", "digest": notes_digest(doc)}
    return doc


def write(tmp_path: Path, doc: Any, name: str = "notes_nguyen-van-binh_2019-05-22.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) if not isinstance(doc, str) else doc,
                    encoding="utf-8")
    return path


CLIPS = [clip("clipA", "S01"), clip("clipDF", "S02", start="01:00:59;28", fps="30000/1001")]


def test_a_good_file_gives_ledger_records(tmp_path: Path, film: Film) -> None:
    path = write(tmp_path, document([note(), note(id="a1b2c3d4-scene", asset=None, frame=None, timecode=None,
                                                  fps=None, verdict="approve", text="")]))
    parsed, sha = read_notes_file(path)
    records = check_notes(parsed, film, CLIPS, path.name, sha)
    assert [r.note_id for r in records] == ["0f8e4a2c-1111-4222-8333-444455556666", "a1b2c3d4-scene"]
    first = records[0]
    assert (first.scene_id, first.asset_id, first.timecode, first.frame) == ("S01", "clipA", "10:00:00:15", 15)
    assert first.reviewer == "Nguyễn Văn Bình" and first.text == "Thay cảnh này <b>ngay</b>"
    assert first.written_at == datetime(2019, 5, 22, 3, 4, 5, 678000, tzinfo=UTC)
    assert first.source_file == path.name and len(first.file_sha256) == 64


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": [1, None], "a": "Cần Thơ\n\"x\""}) == '{"a":"Cần Thơ\\n\\"x\\"","b":[1,null]}'.encode()


@pytest.mark.parametrize(
    ("content", "error", "field"),
    [
        ("{not json", NotesNotJson, "(file)"),
        ("[1, 2]", NotesWrongSchema, "(file)"),
        (json.dumps({"schema": "something.else", "version": 1}), NotesWrongSchema, "schema"),
        (json.dumps({"schema": "docfilm.review-notes", "version": 2}), NotesWrongSchema, "version"),
        (json.dumps({"schema": "docfilm.review-notes", "version": 1}), NotesInvalid, "integrity.digest"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, content: str, error: type[NotesRefused], field: str) -> None:
    path = write(tmp_path, content, "bad.json")
    with pytest.raises(error) as caught:
        read_notes_file(path)
    assert caught.value.file == "bad.json" and caught.value.field == field
    assert "bad.json" in str(caught.value) and "nothing imported" in str(caught.value)


def test_tampered_file_is_refused(tmp_path: Path) -> None:
    doc = document([note()])
    doc["notes"][0]["verdict"] = "approve"  # changed after export, digest left as it was
    with pytest.raises(NotesTampered, match=r"integrity\.digest: the content's SHA-256 is [0-9a-f]{64}"):
        read_notes_file(write(tmp_path, doc))


def test_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"reviewer": "Bình"}'.encode("latin-1"))
    with pytest.raises(NotesNotJson, match="not UTF-8"):
        read_notes_file(path)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"verdict": "maybe"}, "notes[0].verdict"),
        ({"frame": "15"}, "notes[0].frame"),
        ({"frame": -1}, "notes[0].frame"),
        ({"timecode": "10:00:00"}, "notes[0].timecode"),
        ({"written_at": "2019-05-22T03:04:05"}, "notes[0].written_at"),
        ({"extra": 1}, "notes[0].extra"),
    ],
)
def test_fields_of_wrong_shape_are_refused(tmp_path: Path, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(NotesInvalid) as caught:
        read_notes_file(write(tmp_path, document([note(**changes)])))
    assert caught.value.field == field


def test_reviewer_must_be_named(tmp_path: Path) -> None:
    with pytest.raises(NotesInvalid, match="reviewer"):
        read_notes_file(write(tmp_path, document([note()], reviewer="  ")))


@pytest.mark.parametrize(
    ("doc_changes", "note_changes", "error", "field"),
    [
        ({"film": "another-film"}, {}, NotesForAnotherFilm, "film"),
        ({}, {"scene": "S99"}, NotesUnknownTarget, "notes[0].scene"),
        ({}, {"asset": "nope"}, NotesUnknownTarget, "notes[0].asset"),
        ({}, {"timecode": "10:00:00:16"}, NotesInvalid, "notes[0].timecode"),
        ({}, {"fps": "30/1"}, NotesInvalid, "notes[0].fps"),
        ({}, {"asset": None}, NotesInvalid, "notes[0].frame"),
    ],
)
def test_notes_that_do_not_fit_the_film_or_ledger_are_refused(
    tmp_path: Path, film: Film, doc_changes: dict[str, Any], note_changes: dict[str, Any],
    error: type[NotesRefused], field: str,
) -> None:
    path = write(tmp_path, document([note(**note_changes)], **doc_changes))
    parsed, sha = read_notes_file(path)
    with pytest.raises(error) as caught:
        check_notes(parsed, film, CLIPS, path.name, sha)
    assert caught.value.field == field


def test_repeated_note_id_is_refused(tmp_path: Path, film: Film) -> None:
    path = write(tmp_path, document([note(), note(text="again")]))
    parsed, sha = read_notes_file(path)
    with pytest.raises(NotesInvalid, match="appears twice"):
        check_notes(parsed, film, CLIPS, path.name, sha)


def test_drop_frame_timecode_is_checked_with_opentime(tmp_path: Path, film: Film) -> None:
    # 01:00:59;28 + 2 frames at 29.97 drop-frame skips ;00 and ;01 of the next minute.
    assert source_timecode("01:00:59;28", 2, "30000/1001") == "01:01:00;02"
    path = write(tmp_path, document([note(scene="S02", asset="clipDF", frame=2, timecode="01:01:00;02",
                                          fps="30000/1001")]))
    parsed, sha = read_notes_file(path)
    assert check_notes(parsed, film, CLIPS, path.name, sha)[0].timecode == "01:01:00;02"


def test_notes_on_a_high_frame_rate_clip_count_the_frames_the_packet_played(tmp_path: Path, film: Film) -> None:
    # A 120 fps clip is reviewed at 60 fps (its proxy's rate): frame 61 of it is 00:00:01:01.
    clips = [*CLIPS, clip("clip120", "S02", start="00:00:00:00", fps="120/1")]
    path = write(tmp_path, document([note(scene="S02", asset="clip120", frame=61, timecode="00:00:01:01",
                                          fps="60/1")]))
    parsed, sha = read_notes_file(path)
    assert check_notes(parsed, film, clips, path.name, sha)[0].timecode == "00:00:01:01"
    wrong = write(tmp_path, document([note(scene="S02", asset="clip120", frame=61, timecode="00:00:00:061",
                                           fps="120/1")]))
    parsed, sha = read_notes_file(wrong)
    with pytest.raises(NotesInvalid) as caught:
        check_notes(parsed, film, clips, wrong.name, sha)
    assert caught.value.field.endswith(".fps") or caught.value.field.endswith(".timecode")


def _review_note(note_id: str, scene: str, reviewer: str, verdict: str, minute: int) -> ReviewNote:
    return ReviewNote(
        note_id=note_id, film_id="can-tho-xiv", scene_id=scene, asset_id=None, reviewer=reviewer, verdict=verdict,
        text="", frame=None, timecode=None, fps=None, written_at=datetime(2019, 5, 22, 8, minute, tzinfo=UTC),
        packet_id="p", manifest_sha256="0" * 64, source_file="f.json", file_sha256="1" * 64,
    )


def test_scene_review_state_takes_each_reviewers_latest_verdict() -> None:
    notes = [
        _review_note("n1", "S01", "An", "changes-requested", 1),
        _review_note("n2", "S01", "An", "approve", 2),  # An changed their mind
        _review_note("n3", "S01", "Bình", "approve", 3),
        _review_note("n4", "S02", "An", "approve", 1),
        _review_note("n5", "S02", "Bình", "changes-requested", 2),
        _review_note("n6", "S03", "An", "comment", 1),
    ]
    assert scene_review_states(notes) == {"S01": "approved", "S02": "changes-requested", "S03": "no-review"}


def test_same_id_with_other_content_is_a_conflict() -> None:
    stored = [_review_note("n1", "S01", "An", "approve", 1)]
    assert new_notes(stored, stored, "f.json") == []
    changed = [_review_note("n1", "S01", "An", "changes-requested", 1)]
    with pytest.raises(NotesConflict, match="imported before"):
        new_notes(changed, stored, "g.json")


# ------------------------------------------------------------------------------- into the ledger, by CLI


def test_notes_import_command_stores_once_and_refuses_bad_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, review_media: tuple[Path, Path]
) -> None:
    from flows.cli import app
    from flows.review_steps import review_notes

    ws: Any = ledger_workspace(tmp_path / "home", monkeypatch, review_media,
                               [LedgerClip("clipA", "S01", "S01-01", "A001.mov")])
    good = write(tmp_path, document([note()]))
    runner = CliRunner()
    first = runner.invoke(app, ["notes", "import", str(good), "--json"])
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert (result["notes"], result["imported"], result["already"]) == (1, 1, 0)
    assert result["scenes"] == [{"id": "S01", "review": "changes-requested"}]
    again = runner.invoke(app, ["notes", "import", str(good), "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["imported"] == 0
    assert [n.note_id for n in review_notes(ws)] == [note()["id"]]

    tampered = document([note(id="99999999-aaaa", text="khác")])
    tampered["reviewer"] = "Người khác"
    bad = write(tmp_path, tampered, "notes_tampered.json")
    refused = runner.invoke(app, ["notes", "import", str(bad)])
    assert refused.exit_code == 2
    assert "notes_tampered.json" in refused.output and "integrity.digest" in refused.output
    unknown = write(tmp_path, document([note(id="88888888-bbbb", asset="ghost")]), "notes_unknown.json")
    refused = runner.invoke(app, ["notes", "import", str(unknown)])
    assert refused.exit_code == 2 and "notes[0].asset" in refused.output
    assert [n.note_id for n in review_notes(ws)] == [note()["id"]], "refused files write nothing"

    status = runner.invoke(app, ["status", "--json", "--as-of", "2019-05-22"])
    assert status.exit_code == 0, status.output
    scene = next(s for s in json.loads(status.stdout)["scenes"] if s["id"] == "S01")
    assert scene["review"] == "changes-requested"
    assert [(n["reviewer"], n["timecode"], n["verdict"]) for n in scene["notes"]] == [
        ("Nguyễn Văn Bình", "10:00:00:15", "changes-requested")
    ]
    # A wide terminal, so both languages fit. The CLI's console is made at import, and a COLUMNS present then
    # (as in some test runners' workers) would fix its width: set the width on the console itself.
    from flows.cli.application import out

    monkeypatch.setattr(out, "_width", 400)
    table = runner.invoke(app, ["status", "--as-of", "2019-05-22"])
    assert "Cần sửa / Changes requested (1)" in table.stdout and "Thay cảnh này <b>ngay</b>" in table.stdout


def test_packet_shows_imported_notes_and_review_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, review_media: tuple[Path, Path]
) -> None:
    from flows.review_steps import import_notes, review_notes
    from flows.steps import clip_records
    from review.packet import build_packet

    ws: Any = ledger_workspace(tmp_path / "home", monkeypatch, review_media,
                               [LedgerClip("clipA", "S01", "S01-01", "A001.mov")])
    import_notes(ws, write(tmp_path, document([note(), note(id="11111111-2222", scene="S02", asset=None, frame=None,
                                                            timecode=None, fps=None, verdict="approve",
                                                            text="Đồng ý")])))
    result = build_packet(ws.film, clip_records(ws), tmp_path / "packets", date(2019, 5, 22),
                          notes=review_notes(ws))
    html = result.path.read_text(encoding="utf-8")
    s01 = html[html.index('id="scene-S01"'):html.index('id="scene-S02"')]
    assert 'data-review="changes-requested"' in s01
    assert "Thay cảnh này &lt;b&gt;ngay&lt;/b&gt;" in s01 and "<b>ngay" not in html
    assert "10:00:00:15" in s01 and "Nguyễn Văn Bình" in s01 and "A001.mov" in s01
    assert 'data-review="approved"' in html[html.index('id="scene-S02"'):]
    data = json.loads(html.split('<script type="application/json" id="packet-data">')[1].split("</script>")[0])
    assert sorted(data["imported"]) == sorted([note()["id"], "11111111-2222"])
