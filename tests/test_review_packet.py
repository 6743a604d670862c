"""Review packet: content, escaping, relative media, zip, atomic and media-preserving rebuilds."""

from __future__ import annotations

import base64
import errno
import hashlib
import html
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape

import review.packet
from review.errors import PacketWriteFailed
from review.packet import PacketResult, build_packet, clean_reason, fact_is_known
from review.records import ClipRecord
from review.writing import ZipWriter
from storyboard.loader import load_film
from storyboard.models import Film

AS_OF = date(2019, 5, 20)
GENERATED = datetime(2019, 5, 20, 9, 30, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"
THEME_TITLES = (
    "Xây dựng Đảng và hệ thống chính trị",
    "Phát triển kinh tế - xã hội",
    "Bảo đảm quốc phòng - an ninh",
)


def hostile_film(film: Film) -> Film:
    """The bundled film with a script tag in the first scene's title."""
    first = film.scenes[0]
    title = first.title.model_copy(update={"vi": f"{first.title.vi} {HOSTILE}"})
    return film.model_copy(update={"scenes": [first.model_copy(update={"title": title}), *film.scenes[1:]]})


def make_clip(
    asset_id: str,
    name: str,
    scene_id: str | None,
    shot_id: str | None,
    media: tuple[Path, Path],
    **changes: object,
) -> ClipRecord:
    proxy, poster = media
    fields: dict[str, object] = {
        "asset_id": asset_id,
        "name": name,
        "scene_id": scene_id,
        "shot_id": shot_id,
        "kind": "video",
        "duration_frames": 25,
        "fps": "25/1",
        "width": 1920,
        "height": 1080,
        "rotation": 0,
        "start_timecode": "10:00:00:00",
        "sha256": asset_id.ljust(64, "0"),
        "proxy": proxy,
        "poster": poster,
        "proxy_state": "done",
        "proxy_reason": None,
    }
    fields.update(changes)
    return ClipRecord(**fields)  # type: ignore[arg-type]


def sample_clips(film: Film, media: tuple[Path, Path]) -> list[ClipRecord]:
    """A playable clip in each theme's first scene (one with a hostile name), a failed and a stray clip."""
    clips = []
    for n, theme in enumerate(film.themes):
        scene = film.scenes_of(theme.id)[0]
        name = f"A00{n}_{HOSTILE}.mov" if n == 0 else f"Cảnh quay {n}.MOV"
        clips.append(make_clip(f"asset{n}", name, scene.id, scene.shots[0].id, media))
    second = film.scenes[1]
    clips.append(
        make_clip(
            "broken",
            "hỏng.MOV",
            second.id,
            None,
            media,
            proxy=None,
            poster=None,
            proxy_state="failed",
            proxy_reason="/media/card/hỏng.MOV: Invalid data found when processing input",
        )
    )
    clips.append(make_clip("stray", "lạc.MOV", None, None, media))
    return clips


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        for key, value in attrs:
            if key in ("src", "href", "poster") and value is not None:
                self.links.append(value)


def parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


@dataclass
class Built:
    film: Film
    clips: list[ClipRecord]
    result: PacketResult
    html: str
    out: Path


@pytest.fixture()
def built(tmp_path: Path, review_media: tuple[Path, Path]) -> Built:
    film = hostile_film(load_film())
    media_copy = tmp_path / "renders"
    media_copy.mkdir()
    proxy = Path(shutil.copy2(review_media[0], media_copy / "proxy.mp4"))
    poster = Path(shutil.copy2(review_media[1], media_copy / "poster.jpg"))
    clips = sample_clips(film, (proxy, poster))
    out = tmp_path / "packets"
    result = build_packet(film, clips, out, AS_OF, generated_at=GENERATED)
    return Built(film, clips, result, result.path.read_text(encoding="utf-8"), out)


def test_result_and_layout(built: Built) -> None:
    result = built.result
    film_id = built.film.film.id
    assert result.folder == built.out / film_id
    assert result.path == result.folder / "index.html"
    assert result.zip == built.out / f"{film_id}.zip"
    assert (result.scenes, result.assets, result.as_of) == (len(built.film.scenes), len(built.clips), AS_OF)
    assert (result.playable, result.failed) == (4, 1)
    assert result.to_json()["as_of"] == "2019-05-20"
    # Nothing but the packet, its zip, the lock and the key of its inputs (for rebuilds) is left beside it.
    assert sorted(p.name for p in built.out.iterdir()) == sorted(
        [film_id, f"{film_id}.zip", f".{film_id}.lock", f".{film_id}.rebuild-key.json"]
    )


def test_page_head_and_commission(built: Built) -> None:
    html = built.html
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="vi">' in html
    assert '<meta charset="utf-8">' in html
    assert 'name="viewport"' in html
    film = built.film.film
    assert str(escape(film.title.vi)) in html
    if film.subtitle:
        assert str(escape(film.subtitle.vi)) in html
    assert "1293-CV/TU" in html
    assert "06/05/2019" in html and "6 May 2019" in html
    assert str(escape(film.commission.issuer.vi)) in html
    assert str(escape(film.commission.summary.vi)) in html
    assert "còn 11 ngày" in html and "11 days left" in html
    assert "31/05/2019" in html


def test_milestone_overdue_wording(tmp_path: Path) -> None:
    result = build_packet(load_film(), [], tmp_path, date(2019, 6, 3), generated_at=GENERATED)
    html = result.path.read_text(encoding="utf-8")
    assert "quá hạn 3 ngày" in html and "3 days overdue" in html


def test_themes_and_every_scene_in_order(built: Built) -> None:
    html = built.html
    positions = [
        html.index(f'<h2>{n}. <span lang="vi">{title}</span>') for n, title in enumerate(THEME_TITLES, 1)
    ]
    assert positions == sorted(positions)
    for scene in built.film.scenes:
        assert f'id="scene-{scene.id}"' in html
        assert str(escape(scene.title.vi)) in html
        assert str(escape(scene.title.en)) in html
        assert str(escape(scene.narration.vi)) in html
        for shot in scene.shots:
            assert f'id="shot-{shot.id}"' in html
            assert str(escape(shot.description.vi)) in html
    order = [html.index(f'id="scene-{s.id}"') for t in built.film.themes for s in built.film.scenes_of(t.id)]
    assert order == sorted(order)


def test_planned_duration_and_state_bilingual(built: Built) -> None:
    scene = built.film.scenes[0]
    article = re.search(rf'<article class="scene" id="scene-{scene.id}".*?</article>', built.html, re.S)
    assert article is not None
    seconds = scene.planned_frames // built.film.film.fps
    assert f"<strong>{seconds // 60}:{seconds % 60:02d}</strong>" in article.group(0)
    assert 'class="state state-' + str(scene.state) + '"' in article.group(0)


def test_user_text_is_escaped(built: Built) -> None:
    assert HOSTILE not in built.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in built.html
    assert built.html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # title, contents, clip name
    # The page's own script and its JSON data are the only script elements; CSP allows that script by hash.
    assert built.html.count("<script") == 2
    assert built.html.count('<script type="application/json" id="packet-data">') == 1
    script = built.html.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', built.html)
    assert csp is not None
    policy = {d.split()[0]: d.split()[1:] for d in html.unescape(csp.group(1)).split("; ")}
    assert policy["default-src"] == ["'none'"] and "connect-src" not in policy
    assert policy["script-src"] == [f"'sha256-{digest}'"]
    assert policy["media-src"] == ["'self'", "data:"]  # the film's WebVTT rides inside the page
    assert not re.search(r"\son[a-z]+=", built.html), "no inline event handlers"


def test_media_links_are_relative_and_exist(built: Built) -> None:
    parsed = parse(built.html)
    local = [link for link in parsed.links if not link.startswith(("https://", "http://", "#", "data:"))]
    assert local, "expected media links"
    for link in local:
        assert not link.startswith(("/", "file:")) and ".." not in link
        assert (built.result.folder / link).is_file(), link
    # Each clip is a link to its proxy with a lazy poster; the script makes the player (see the browser tests).
    assert "<video" not in built.html
    players = [n for n, (tag, attrs) in enumerate(parsed.tags) if tag == "a" and attrs.get("class") == "player"]
    assert len(players) == 4
    for n in players:
        anchor, (img_tag, img) = parsed.tags[n][1], parsed.tags[n + 1]
        href = anchor["href"]
        assert href is not None and href.startswith("media/") and href.endswith(".mp4")
        assert anchor["data-type"] == "video/mp4"
        assert img_tag == "img" and img["loading"] == "lazy"
        assert img["src"] is not None and img["src"].startswith("media/") and img["src"].endswith("-poster.jpg")
    for tag, attrs in parsed.tags:
        if tag == "a" and (attrs.get("href") or "").startswith("http"):
            assert "noopener" in (attrs.get("rel") or "")


def test_clip_details_failed_and_unassigned(built: Built) -> None:
    html = built.html
    assert "10:00:00:00" in html and "00:00:01:00" in html  # start timecode, 25 frames at 25 fps
    assert "Không tạo được bản xem" in html and "Proxy failed" in html
    assert "hỏng.MOV: Invalid data found when processing input" in html
    assert "/media/card" not in html
    unassigned = html[html.index('<section id="unassigned">') :]
    assert "Chưa gán cảnh" in unassigned and "Unassigned" in unassigned and "lạc.MOV" in unassigned


def test_no_local_path_in_page(built: Built) -> None:
    assert str(built.out.parent) not in built.html
    assert "/tmp/" not in built.html and "file:" not in built.html


def test_zip_holds_the_packet(built: Built) -> None:
    film_id = built.film.film.id
    with zipfile.ZipFile(built.result.zip) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        assert f"{film_id}/index.html" in names
        media = sorted(
            p.relative_to(built.result.folder).as_posix() for p in (built.result.folder / "media").iterdir()
        )
        assert media and {f"{film_id}/{m}" for m in media} <= names
        assert archive.read(f"{film_id}/index.html").decode("utf-8") == built.html


def test_rebuild_keeps_unchanged_media_files(built: Built) -> None:
    media_dir = built.result.folder / "media"
    before = {p.name: p.stat().st_mtime_ns for p in media_dir.iterdir()}
    inodes = {p.name: p.stat().st_ino for p in media_dir.iterdir()}
    later = datetime(2019, 5, 21, 8, 0, tzinfo=UTC)
    again = build_packet(built.film, built.clips, built.out, date(2019, 5, 21), generated_at=later)
    after = {p.name: p.stat().st_mtime_ns for p in media_dir.iterdir()}
    assert after == before
    # Same inode: the file was linked into the new packet, not written again.
    assert {p.name: p.stat().st_ino for p in media_dir.iterdir()} == inodes
    assert (again.media_reused, again.media_added) == (len(before), 0)
    html = again.path.read_text(encoding="utf-8")
    assert "còn 10 ngày" in html and "2019-05-21 08:00" in html

    # A re-rendered proxy (new file, new mtime) replaces the packet's copy, and only that one.
    renders = built.clips[0].proxy
    assert renders is not None
    new_proxy = renders.with_name("proxy-v2.mp4")
    shutil.copy(renders, new_proxy)
    os.utime(new_proxy, ns=(before["asset0.mp4"] + 10**9, before["asset0.mp4"] + 10**9))
    clips = [built.clips[0].__class__(**{**built.clips[0].__dict__, "proxy": new_proxy}), *built.clips[1:]]
    third = build_packet(built.film, clips, built.out, AS_OF, generated_at=GENERATED)
    changed = {p.name: p.stat().st_mtime_ns for p in media_dir.iterdir()}
    assert changed["asset0.mp4"] == before["asset0.mp4"] + 10**9
    assert {k: v for k, v in changed.items() if k != "asset0.mp4"} == {
        k: v for k, v in before.items() if k != "asset0.mp4"
    }
    assert (third.media_reused, third.media_added) == (len(before) - 1, 1)


def test_failed_build_keeps_previous_packet(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(review.packet.ZipWriter, "finish", disk_full)
    with pytest.raises(PacketWriteFailed, match="previous packet kept") as failed:
        build_packet(built.film, built.clips[:1], built.out, date(2019, 6, 3), generated_at=GENERATED)
    # An environment problem (exit 3) that names the folder and the OS's reason, not a traceback with exit 1.
    assert failed.value.exit_code == 3
    assert str(built.out) in str(failed.value) and "No space left on device" in str(failed.value)
    assert built.result.path.read_text(encoding="utf-8") == built.html
    assert not [p for p in built.out.iterdir() if ".build-" in p.name or ".tmp-" in p.name]


def test_figures_later_than_as_of_are_not_shown_as_known(built: Built) -> None:
    film = built.film
    used = {fact_id for scene in film.scenes for shot in scene.shots for fact_id in shot.facts}
    later = [f for f in film.facts if f.id in used and f.year > AS_OF.year]
    known = [f for f in film.facts if f.id in used and fact_is_known(f, AS_OF)]
    assert not any(fact_is_known(f, AS_OF) for f in later)
    assert later and known, "the bundled film should use figures from both sides of the as-of date"

    def rows(html: str, fact_id: str) -> list[str]:
        return re.findall(rf'<tr id="fact-S\d\d-{re.escape(fact_id)}".*?</tr>', html, re.S)

    for fact in later:
        for row in rows(built.html, fact.id):
            assert 'data-known="no"' in row
            assert "chưa có số liệu" in row and "not yet known as of 20 May 2019" in row
            assert f"<strong>{escape(fact.value)}</strong>" not in row
        assert rows(built.html, fact.id)
    for fact in known:
        for row in rows(built.html, fact.id):
            assert 'data-known="yes"' in row and f"<strong>{escape(fact.value)}</strong>" in row

    # After the Congress term the same figures are known.
    result = build_packet(film, [], built.out / "later", date(2021, 6, 1), generated_at=GENERATED)
    html = result.path.read_text(encoding="utf-8")
    for fact in later:
        assert all(f"<strong>{escape(fact.value)}</strong>" in row for row in rows(html, fact.id))


def test_running_year_figures_need_a_date_unless_targets(built: Built) -> None:
    fact = built.film.facts[0]
    current = fact.model_copy(update={"year": 2019, "status": "estimate", "as_of": None})
    assert not fact_is_known(current, AS_OF)
    assert fact_is_known(current.model_copy(update={"status": "target"}), AS_OF)
    assert fact_is_known(current.model_copy(update={"as_of": date(2019, 4, 30)}), AS_OF)
    assert not fact_is_known(current.model_copy(update={"as_of": date(2019, 5, 21)}), AS_OF)
    assert fact_is_known(current.model_copy(update={"year": 2018}), AS_OF)
    assert not fact_is_known(current.model_copy(update={"year": 2020, "status": "target"}), AS_OF)


def test_clean_reason_drops_local_paths() -> None:
    assert "/home" not in clean_reason("/home/ed/card 1/x.mov: bad")
    assert clean_reason("C:\\Footage\\A001.MOV: moov atom not found") == "A001.MOV: moov atom not found"
    assert clean_reason("Error opening /srv/x/y/z.mxf") == "Error opening z.mxf"
    assert len(clean_reason("x" * 1000)) == 300
    assert clean_reason(None) == ""


def test_without_hard_links_copies_keep_size_and_mtime(
    tmp_path: Path, review_media: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*_args: object) -> None:
        raise OSError(1, "Operation not permitted")  # as on FAT/exFAT

    monkeypatch.setattr(review.packet.os, "link", no_links)
    film = load_film()
    clips = sample_clips(film, review_media)
    first = build_packet(film, clips, tmp_path, AS_OF, generated_at=GENERATED)
    media = {p.name: p.stat() for p in (first.folder / "media").iterdir()}
    source = review_media[0].stat()
    copied = media["asset0.mp4"]
    assert copied.st_ino != source.st_ino
    assert (copied.st_size, copied.st_mtime_ns) == (source.st_size, source.st_mtime_ns)
    again = build_packet(film, clips, tmp_path, AS_OF, generated_at=GENERATED)
    assert {p.name: p.stat().st_mtime_ns for p in (again.folder / "media").iterdir()} == {
        name: st.st_mtime_ns for name, st in media.items()
    }
    assert (again.media_reused, again.media_added) == (len(media), 0)


def test_script_is_joined_from_its_sources_and_takes_its_words_from_the_data(built: Built) -> None:
    import json

    from core.vocabulary import QC_RULES, REVIEW_STATES, VERDICTS
    from review.labels import QC_KINDS, SCRIPT_LABELS
    from review.labels import REVIEW_STATES as REVIEW_LABELS
    from review.labels import VERDICTS as VERDICT_LABELS
    from review.page import script_sources, templates_dir

    # The labels cover exactly the vocabulary they name.
    assert set(VERDICT_LABELS) == set(VERDICTS) and set(REVIEW_LABELS) == set(REVIEW_STATES)
    assert set(QC_KINDS) == set(QC_RULES)
    sources = script_sources(templates_dir())
    assert len(sources) >= 5, "the script is kept in several source files"
    script = built.html.split("<script>", 1)[1].split("</script>", 1)[0]
    # One inline script: every source file, in name order, and nothing else.
    assert script == "".join(p.read_text(encoding="utf-8") for p in sources)
    # The script defines no words: verdicts and labels reach it in the data block, none is a string in it.
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', script)
    assert "docfilm.review-notes" in literals  # the pattern does find the script's strings
    for label in [*VERDICT_LABELS.values(), *SCRIPT_LABELS.values()]:
        assert not [text for text in literals if label.vi in text or label.en in text], label
    block = re.search(r'<script type="application/json" id="packet-data">(.*?)</script>', built.html, re.S)
    assert block is not None
    data = json.loads(block.group(1))
    assert [v["id"] for v in data["verdicts"]] == list(VERDICTS)
    assert [(v["vi"], v["en"]) for v in data["verdicts"]] == [(VERDICT_LABELS[v].vi, VERDICT_LABELS[v].en)
                                                              for v in VERDICTS]
    assert data["words"] == {k: {"vi": w.vi, "en": w.en} for k, w in SCRIPT_LABELS.items()}


def test_packet_folder_that_cannot_be_made_is_an_environment_problem(tmp_path: Path) -> None:
    """A packets folder under a file (or on a full or read-only disk) is exit 3 naming the folder and the OS's
    reason, not a traceback."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(PacketWriteFailed) as failed:
        build_packet(load_film(), [], blocker / "packets", AS_OF, generated_at=GENERATED)
    assert failed.value.exit_code == 3
    message = str(failed.value)
    assert str(blocker / "packets") in message and "Not a directory" in message
    assert "DOCFILM_PACKETS_DIR" in message


def test_structured_qc_flags_get_their_words_from_review_labels() -> None:
    """A flag as renders records it (rule, start, end, value, limit, no words) is worded by review.labels."""
    from review.cards import qc_flags

    flags = qc_flags({"flags": [
        {"rule": "black", "start": "10:00:01:00", "end": "10:00:04:00", "value": 3.0, "limit": 2.0},
        {"rule": "loudness", "start": None, "end": None, "value": -16.4, "limit": -23},
    ]})
    black, loud = flags
    # The words say where, so the timecode range is not shown a second time beside them.
    assert black.kind == "black" and black.tc is None and black.label is None
    assert black.detail is not None and black.detail.vi == "Hình đen 3.0 s 10:00:01:00–10:00:04:00 (> 2 s)"
    assert black.detail.en == "Black frames for 3.0 s 10:00:01:00–10:00:04:00 (> 2 s)"
    assert loud.detail is not None and loud.tc is None
    assert loud.detail.en == "Loudness -16.4 LUFS, above -23 LUFS (QCVN 115:2017/BTTTT)"
    assert loud.detail.vi == "Độ lớn âm thanh -16.4 LUFS, trên -23 LUFS (QCVN 115:2017/BTTTT)"


def _stamps(result: PacketResult) -> list[tuple[int, int]]:
    return [(p.stat().st_ino, p.stat().st_mtime_ns) for p in (result.path, result.manifest, result.zip)]


def test_rebuild_with_nothing_changed_does_nothing(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    # A build that would render, link or zip anything fails here: the same inputs must not get that far.
    before = _stamps(built.result)

    def must_not_build(*_args: object) -> None:
        raise AssertionError("the packet was rebuilt although nothing changed")

    with monkeypatch.context() as patch:
        patch.setattr(review.packet, "_build", must_not_build)
        again = build_packet(built.film, built.clips, built.out, AS_OF, generated_at=datetime(2019, 5, 21, tzinfo=UTC))
    assert again.packet_id == built.result.packet_id and again.path == built.result.path
    assert (again.media_added, again.media_hashed) == (0, 0)
    assert (again.scenes, again.assets, again.playable, again.failed) == (
        built.result.scenes, built.result.assets, built.result.playable, built.result.failed)
    assert _stamps(again) == before and again.path.read_text(encoding="utf-8") == built.html


def test_rebuild_happens_when_an_input_or_an_output_changed(built: Built) -> None:
    first = built.result
    # A proxy re-rendered in place (new mtime, same name): the packet is built again and the file re-hashed.
    proxy = next(c.proxy for c in built.clips if c.proxy is not None)
    stat = proxy.stat()
    os.utime(proxy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = build_packet(built.film, built.clips, built.out, AS_OF, generated_at=datetime(2019, 5, 21, tzinfo=UTC))
    assert second.packet_id != first.packet_id and second.media_hashed >= 1
    # The zip removed by hand: the next build with the same inputs writes it again rather than trusting the key.
    second.zip.unlink()
    third = build_packet(built.film, built.clips, built.out, AS_OF, generated_at=datetime(2019, 5, 22, tzinfo=UTC))
    assert third.zip.is_file() and zipfile.ZipFile(third.zip).testzip() is None
    assert third.packet_id != second.packet_id
    # Another as-of date is another packet.
    fourth = build_packet(built.film, built.clips, built.out, date(2019, 5, 27), generated_at=GENERATED)
    assert fourth.as_of == date(2019, 5, 27) and fourth.packet_id != third.packet_id


def test_zip_holds_every_file_of_the_packet(built: Built) -> None:
    # The media is zipped by a process of its own while the page renders; the zip must still hold exactly the folder.
    folder = built.result.folder
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(built.result.zip) as archive:
        assert archive.testzip() is None
        names = sorted(n.split("/", 1)[1] for n in archive.namelist())
        assert names == on_disk
        for rel in on_disk:
            assert archive.read(f"{folder.name}/{rel}") == (folder / rel).read_bytes()


def test_media_zip_failure_is_the_os_error_it_met(tmp_path: Path) -> None:
    # The media zip runs as a process of its own: its failure must come back as the OSError it met (errno,
    # reason, file), which build_packet turns into PacketWriteFailed, not as a bare exit status.
    folder = tmp_path / "packet"
    (folder / "media").mkdir(parents=True)
    (folder / "media" / "a.mp4").write_bytes(b"not really a video")
    target = tmp_path / "no-such-folder" / "packet.zip"
    writer = ZipWriter(folder, "packet", target)
    writer.start_media()
    with pytest.raises(OSError) as failed:
        writer.finish()
    assert failed.value.errno == errno.ENOENT and str(target) in str(failed.value)
