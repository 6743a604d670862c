"""Packet integrity and memory: manifest.json, `docfilm packet --verify`, change marks between packets."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from review.errors import PacketNotFound
from review.manifest import MANIFEST_NAME, STATE_NAME, file_sha256, ledger_revision, verify_packet
from review.packet import PacketResult, build_packet
from review.records import ClipRecord
from storyboard.loader import load_film
from storyboard.models import Film

AS_OF = date(2019, 5, 20)


def make_clip(asset_id: str, scene_id: str, shot_id: str | None, media: tuple[Path, Path], **changes: object
              ) -> ClipRecord:
    fields: dict[str, object] = {
        "asset_id": asset_id, "name": f"{asset_id}.MOV", "scene_id": scene_id, "shot_id": shot_id, "kind": "video",
        "duration_frames": 25, "fps": "25/1", "width": 1920, "height": 1080, "rotation": 0,
        "start_timecode": "10:00:00:00", "sha256": asset_id.ljust(64, "0"), "proxy": media[0], "poster": media[1],
        "proxy_state": "done", "proxy_reason": None,
    }
    fields.update(changes)
    return ClipRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture()
def media(tmp_path: Path, review_media: tuple[Path, Path]) -> tuple[Path, Path]:
    folder = tmp_path / "renders"
    folder.mkdir()
    return Path(shutil.copy2(review_media[0], folder / "a.mp4")), Path(shutil.copy2(review_media[1], folder / "a.jpg"))


def build(film: Film, clips: list[ClipRecord], out: Path, hour: int = 9) -> PacketResult:
    return build_packet(film, clips, out, AS_OF, generated_at=datetime(2019, 5, 20, hour, tzinfo=UTC))


def test_manifest_lists_every_file_with_sha256(tmp_path: Path, media: tuple[Path, Path]) -> None:
    film = load_film()
    clips = [make_clip("a1", "S01", "S01-01", media), make_clip("a2", "S02", None, media)]
    result = build(film, clips, tmp_path / "out")
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["schema"] == "docfilm.packet-manifest" and manifest["version"] == 1
    assert manifest["packet_id"] == result.packet_id and result.packet_id.startswith("can-tho-xiv-20190520T090000Z-")
    assert manifest["ledger_revision"] == ledger_revision(clips, []) == result.ledger_revision
    on_disk = sorted(p.relative_to(result.folder).as_posix() for p in result.folder.rglob("*") if p.is_file())
    assert sorted(e["path"] for e in manifest["files"]) == [n for n in on_disk if n != MANIFEST_NAME]
    for entry in manifest["files"]:
        path = result.folder / entry["path"]
        assert entry["size"] == path.stat().st_size and entry["sha256"] == file_sha256(path)
    assert result.manifest_sha256 in result.path.read_text(encoding="utf-8")
    check = verify_packet(result.folder)
    assert check.ok and check.checked == len(manifest["files"])


def test_ledger_revision_follows_the_ledger(media: tuple[Path, Path]) -> None:
    clip = make_clip("a1", "S01", "S01-01", media)
    base = ledger_revision([clip], [])
    assert ledger_revision([clip], []) == base
    assert ledger_revision([replace(clip, scene_id="S02")], []) != base
    assert ledger_revision([replace(clip, proxy_state="failed")], []) != base
    os.utime(media[0], ns=(1, 1))  # a re-rendered proxy
    assert ledger_revision([clip], []) != base


def test_verify_names_mismatched_missing_and_extra_files(tmp_path: Path, media: tuple[Path, Path]) -> None:
    result = build(load_film(), [make_clip("a1", "S01", "S01-01", media)], tmp_path / "out")
    folder = result.folder
    # Media are hard links to the renders: break the link before damaging the packet's copy.
    poster = folder / "media" / "a1-poster.jpg"
    data = poster.read_bytes()
    poster.unlink()
    poster.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    (folder / "media" / "a1.mp4").unlink()
    (folder / "media" / "stray.txt").write_text("x")
    check = verify_packet(folder)
    assert not check.ok
    assert [m.path for m in check.mismatched] == ["media/a1-poster.jpg"]
    assert check.missing == ["media/a1.mp4"] and check.extra == ["media/stray.txt"]

    from flows.cli import app

    out = CliRunner().invoke(app, ["packet", "--verify", str(folder)])
    assert out.exit_code == 1
    assert "MISMATCHED media/a1-poster.jpg" in out.stdout and "MISSING    media/a1.mp4" in out.stdout
    assert "EXTRA      media/stray.txt" in out.stdout
    as_json = CliRunner().invoke(app, ["packet", "--verify", str(folder), "--json"])
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["missing"] == ["media/a1.mp4"]


def test_verify_of_a_good_packet_and_of_no_packet(tmp_path: Path, media: tuple[Path, Path]) -> None:
    from flows.cli import app

    result = build(load_film(), [make_clip("a1", "S01", "S01-01", media)], tmp_path / "out")
    good = CliRunner().invoke(app, ["packet", "--verify", str(result.folder), "--json"])
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)["ok"] is True
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PacketNotFound):
        verify_packet(empty)
    refused = CliRunner().invoke(app, ["packet", "--verify", str(empty)])
    assert refused.exit_code == 2 and "not a docfilm packet" in refused.output


def test_edited_manifest_is_caught(tmp_path: Path, media: tuple[Path, Path]) -> None:
    result = build(load_film(), [make_clip("a1", "S01", "S01-01", media)], tmp_path / "out")
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    poster = result.folder / "media" / "a1-poster.jpg"
    poster.unlink()
    poster.write_bytes(b"another picture")
    # Someone updates the entry to match the swapped file: the content hash no longer matches.
    for entry in manifest["files"]:
        if entry["path"] == "media/a1-poster.jpg":
            entry.update(size=poster.stat().st_size, sha256=file_sha256(poster))
    result.manifest.write_text(json.dumps(manifest), encoding="utf-8")
    check = verify_packet(result.folder)
    assert [m.path for m in check.mismatched] == [MANIFEST_NAME]


def _article(html: str, scene_id: str) -> str:
    found = re.search(rf'<article class="scene" id="scene-{scene_id}".*?</article>', html, re.S)
    assert found is not None
    return found.group(0)


def test_changes_since_the_previous_packet_are_marked(tmp_path: Path, media: tuple[Path, Path]) -> None:
    film = load_film()
    out = tmp_path / "out"
    clips = [make_clip("a1", "S01", "S01-01", media), make_clip("a2", "S02", None, media)]
    first = build(film, clips, out, hour=8)
    html = first.path.read_text(encoding="utf-8")
    assert "Đây là hồ sơ đầu tiên." in html and first.changes == 0
    assert first.media_hashed == 2  # both clips share one proxy and one poster inode

    # Next day: a new clip, a re-rendered proxy for a2, and a rewritten narration for S03.
    new_proxy = media[0].with_name("a2-v2.mp4")
    new_proxy.write_bytes(media[0].read_bytes() + b"\0")
    scene = film.scenes[2]
    edited = scene.model_copy(update={"narration": scene.narration.model_copy(update={"vi": "Lời bình mới."})})
    film2 = film.model_copy(update={"scenes": [*film.scenes[:2], edited, *film.scenes[3:]]})
    clips2 = [clips[0], replace(clips[1], proxy=new_proxy), make_clip("a3", "S01", "S01-02", media)]
    second = build(film2, clips2, out, hour=9)
    html = second.path.read_text(encoding="utf-8")
    assert second.changes == 3
    assert "So với hồ sơ lập lúc 20/05/2019 15:00" in html  # 08:00 UTC is 15:00 in Vietnam
    assert re.search(r'<figure class="clip" id="clip-a3"[^>]*data-change="new"', html)
    assert re.search(r'<figure class="clip" id="clip-a2"[^>]*data-change="proxy"', html)
    assert not re.search(r'<figure class="clip" id="clip-a1"[^>]*data-change', html)
    assert 'data-change="changed"' in _article(html, scene.id)
    assert "data-change" not in _article(html, film.scenes[3].id).split(">")[0]
    changes = html[html.index('<section id="changes"'):html.index('<section id="summary"')]
    assert "a3.MOV" in changes and "a2.MOV" in changes and f"#scene-{scene.id}" in changes

    # A rebuild with nothing new is no new packet: the same packet stays, marks and all (reviewers may not
    # have seen it yet), and nothing is hashed, linked or written again.
    index_stat = second.path.stat()
    third = build(film2, clips2, out, hour=10)
    assert third.packet_id == second.packet_id
    assert third.changes == 3 and third.media_hashed == 0 and third.media_added == 0
    assert (third.path.stat().st_ino, third.path.stat().st_mtime_ns) == (index_stat.st_ino, index_stat.st_mtime_ns)
    state = json.loads((third.folder / STATE_NAME).read_text(encoding="utf-8"))
    assert state["baseline"]["packet_id"] == first.packet_id
    # Once something changes again, the comparison moves on to the packet before (the one of 09:00 UTC).
    fourth = build(film2, [*clips2, make_clip("a4", "S05", None, media)], out, hour=11)
    assert fourth.changes == 1 and fourth.packet_id != second.packet_id
    assert "So với hồ sơ lập lúc 20/05/2019 16:00" in fourth.path.read_text(encoding="utf-8")


def test_qc_flags_contact_sheet_and_theme_minutes(tmp_path: Path, media: tuple[Path, Path]) -> None:
    film = load_film()
    sheet = media[1].with_name("sheet.jpg")
    shutil.copy2(media[1], sheet)
    qc = {  # as the ledger holds it: older text flags and the records renders writes now
        "flags": [
            {"rule": "black", "start": "10:00:00:05", "end": "10:00:01:20",
             "message": "Hình đen 2.6 s 10:00:00:05–10:00:01:20 (> 2 s) / "
                        "black for 2.6 s 10:00:00:05–10:00:01:20 (> 2 s)"},
            {"rule": "loudness", "start": None, "end": None,
             "message": "Độ lớn âm thanh -18.2 LUFS, ngoài -23 ± 1 LU / "
                        "integrated loudness -18.2 LUFS, outside -23 ± 1 LU"},
            {"rule": "frozen", "start": "10:00:00:02", "end": "10:00:00:09"},
            # As renders writes flags now: a record, worded by review.labels.
            {"rule": "silent", "value": 12.0, "limit": 10.0, "start_frame": 0, "end_frame": 300,
             "start": "10:00:00:00", "end": "10:00:12:00"},
            "<i>odd</i>",
        ],
        "decode_error_count": 2,
        "decode_errors": ["/srv/cards/A001.MOV: error while decoding MB 3 4"],
    }
    first_scene = film.scenes_of("party-building")[0]
    clips = [make_clip("q1", first_scene.id, None, media, qc=qc, contact_sheet=sheet, duration_frames=1500),
             make_clip("q2", first_scene.id, None, media, proxy=None, poster=None, proxy_state=None,
                       duration_frames=750)]
    result = build(film, clips, tmp_path / "out")
    html = result.path.read_text(encoding="utf-8")
    card = html[html.index('id="clip-q1"'):html.index("</figure>", html.index('id="clip-q1"'))]
    assert '<span lang="vi">Hình đen 2.6 s 10:00:00:05–10:00:01:20 (&gt; 2 s)</span>' in card
    assert '<span lang="en" class="en"> black for 2.6 s 10:00:00:05–10:00:01:20 (&gt; 2 s)</span>' in card
    assert "Độ lớn âm thanh -18.2 LUFS" in card and "integrated loudness -18.2 LUFS" in card
    assert "Hình đứng" in card and "10:00:00:02–10:00:00:09" in card  # no message: kind and where
    assert "Black frames" not in card, "a message that names its kind is not prefixed with it again"
    assert '<span lang="vi">Mất tiếng 12.0 s 10:00:00:00–10:00:12:00 (&gt; 10 s)</span>' in card
    assert "Silence for 12.0 s 10:00:00:00–10:00:12:00 (&gt; 10 s)" in card
    assert "&lt;i&gt;odd&lt;/i&gt;" in card
    assert "2 lỗi giải mã" in card and "A001.MOV: error while decoding" in card and "/srv/cards" not in html
    assert 'src="media/q1-sheet.jpg"' in card and (result.folder / "media" / "q1-sheet.jpg").is_file()
    row = re.search(r'<tr data-theme="party-building">.*?</tr>', html, re.S)
    assert row is not None
    planned = sum(s.planned_frames for s in film.scenes_of("party-building")) // film.film.fps
    assert f"{planned // 60}:{planned % 60:02d}" in row.group(0)
    assert "1:30" in row.group(0)  # footage: 60 s + 30 s of the two clips at 25 fps
    assert "1:00" in row.group(0)  # proxies: only the first clip has one
