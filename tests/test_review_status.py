"""Status report: milestone days, the scene ready rule, the JSON contract and the Rich table."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console

from core.timecode import duration_timecode, parse_rate
from review.labels import days_left_label, frames_to_minutes_seconds
from review.records import ClipRecord
from review.status import footage_frames, milestone_state, status_report, status_table
from storyboard.loader import load_film
from storyboard.models import Film, Scene

DUE = date(2019, 5, 31)


@pytest.fixture(scope="module")
def film() -> Film:
    return load_film()


def clip(
    asset_id: str,
    scene_id: str | None,
    shot_id: str | None,
    state: str | None = "done",
    *,
    fps: str = "25/1",
    frames: int = 50,
    kind: str = "video",
) -> ClipRecord:
    return ClipRecord(
        asset_id=asset_id,
        name=f"{asset_id}.mov",
        scene_id=scene_id,
        shot_id=shot_id,
        kind=kind,
        duration_frames=frames,
        fps=fps,
        width=1920,
        height=1080,
        rotation=0,
        start_timecode="10:00:00:00",
        sha256=asset_id.ljust(64, "0"),
        proxy=Path(f"/nonexistent/{asset_id}.mp4") if state == "done" else None,
        poster=None,
        proxy_state=state,
        proxy_reason="decode error" if state == "failed" else None,
    )


@pytest.mark.parametrize(
    ("as_of", "days_left", "state"),
    [
        (date(2019, 5, 20), 11, "upcoming"),
        (date(2019, 5, 30), 1, "upcoming"),
        (date(2019, 5, 31), 0, "due-today"),
        (date(2019, 6, 3), -3, "overdue"),
    ],
)
def test_milestone_days_left_and_state(as_of: date, days_left: int, state: str) -> None:
    assert milestone_state(DUE, as_of) == (days_left, state)


def test_milestone_without_date() -> None:
    assert milestone_state(None, date(2019, 5, 20)) == (None, "no-date")


def test_days_left_wording() -> None:
    assert days_left_label(11).both() == "còn 11 ngày / 11 days left"
    assert days_left_label(1).en == "1 day left"
    assert days_left_label(0).both() == "Đến hạn hôm nay / Due today"
    assert days_left_label(-3).both() == "quá hạn 3 ngày / 3 days overdue"


def test_report_milestones_of_bundled_film(film: Film) -> None:
    report = status_report(film, [], date(2019, 6, 3)).to_json()
    by_id = {m["id"]: m for m in report["milestones"]}  # type: ignore[attr-defined]
    review = by_id["review-standing-board"]
    assert (review["due"], review["days_left"], review["state"]) == ("2019-05-31", -3, "overdue")
    congress = by_id["congress"]
    assert (congress["due"], congress["days_left"], congress["state"]) == (None, None, "no-date")


def test_report_json_contract(film: Film) -> None:
    s01 = film.scenes[0]
    report = json.loads(json.dumps(
        status_report(film, [clip("a1", s01.id, s01.shots[0].id)], date(2019, 5, 20)).to_json(), ensure_ascii=False
    ))
    # The contract's keys with values worked out here from the storyboard itself, not from the report.
    assert {"as_of", "milestones", "themes", "scenes"} <= report.keys()
    expected_milestones = [
        {"id": m.id, "due": m.due.isoformat() if m.due else None,
         "days_left": (m.due - date(2019, 5, 20)).days if m.due else None,
         "state": "no-date" if m.due is None else "upcoming" if m.due > date(2019, 5, 20) else "overdue"}
        for m in film.milestones
    ]
    assert [{k: m[k] for k in ("id", "due", "days_left", "state")} for m in report["milestones"]] == expected_milestones
    expected_themes = [
        {"id": t.id, "scenes": sum(1 for s in film.scenes if s.theme == t.id), "ready": 0}
        for t in sorted(film.themes, key=lambda t: t.order)
    ]
    assert [{k: t[k] for k in ("id", "scenes", "ready")} for t in report["themes"]] == expected_themes
    expected_scenes = [
        {"id": s.id, "theme": s.theme, "state": str(s.state), "assets": int(s is s01), "proxies": int(s is s01)}
        for s in sorted(film.scenes, key=lambda s: s.order)
    ]
    assert [{k: s[k] for k in ("id", "theme", "state", "assets", "proxies")} for s in report["scenes"]] == \
        expected_scenes
    assert report["as_of"] == "2019-05-20"
    for milestone in report["milestones"]:
        assert {"id", "due", "days_left", "state"} <= milestone.keys()
    assert [t["id"] for t in report["themes"]] == ["party-building", "socio-economic", "defence-security"]
    for theme in report["themes"]:
        assert {"id", "scenes", "ready"} <= theme.keys()
        assert theme["scenes"] == len(film.scenes_of(theme["id"]))
    assert [s["id"] for s in report["scenes"]] == [s.id for s in sorted(film.scenes, key=lambda s: s.order)]
    for scene in report["scenes"]:
        assert {"id", "theme", "state", "assets", "proxies"} <= scene.keys()
    first = next(s for s in report["scenes"] if s["id"] == s01.id)
    assert (first["assets"], first["proxies"], first["shots_covered"]) == (1, 1, 1)


def _scene_with_shots(film: Film, n: int) -> Scene:
    return next(s for s in film.scenes if len(s.shots) >= n)


def test_scene_ready_needs_a_done_proxy_for_every_shot(film: Film) -> None:
    scene = _scene_with_shots(film, 2)
    as_of = date(2019, 5, 20)

    def scene_entry(clips: list[ClipRecord]) -> tuple[dict, dict]:
        report = status_report(film, clips, as_of).to_json()
        entry = next(s for s in report["scenes"] if s["id"] == scene.id)  # type: ignore[attr-defined]
        theme = next(t for t in report["themes"] if t["id"] == scene.theme)  # type: ignore[attr-defined]
        return entry, theme

    all_but_last = [clip(f"c{i}", scene.id, shot.id) for i, shot in enumerate(scene.shots[:-1])]
    last = scene.shots[-1].id

    entry, theme = scene_entry(all_but_last)
    assert not entry["ready"] and theme["ready"] == 0

    # A failed render, a pending one, or footage of the scene tied to no shot do not cover the last shot.
    entry, theme = scene_entry(
        [
            *all_but_last,
            clip("f", scene.id, last, "failed"),
            clip("p", scene.id, last, None),
            clip("o", scene.id, None),
        ]
    )
    assert not entry["ready"] and theme["ready"] == 0
    assert (entry["failed"], entry["assets"], entry["proxies"]) == (
        1,
        len(all_but_last) + 3,
        len(all_but_last) + 1,
    )

    # "done" without a proxy file path is not a proxy.
    broken = ClipRecord(**{**clip("x", scene.id, last).__dict__, "proxy": None})
    entry, _ = scene_entry([*all_but_last, broken])
    assert not entry["ready"]

    # A clip naming only the shot is found through the shot.
    entry, theme = scene_entry([*all_but_last, clip("d", None, last)])
    assert entry["ready"] and theme["ready"] == 1
    assert entry["shots_covered"] == entry["shots"] == len(scene.shots)


def test_clips_outside_the_film_are_unassigned(film: Film) -> None:
    report = status_report(film, [clip("u1", None, None), clip("u2", "S99", None)], date(2019, 5, 20))
    assert [u.asset_id for u in report.unassigned] == ["u1", "u2"]
    assert sum(s.assets for s in report.scenes) == 0


def test_footage_frames_are_rescaled_to_the_film_rate() -> None:
    clips = [
        clip("a", "S01", None, fps="25/1", frames=50),
        clip("b", "S01", None, fps="30000/1001", frames=60),  # 2.002 s -> 50 frames at 25
        clip("c", "S01", None, kind="still"),
        clip("d", "S01", None, fps="bogus"),
    ]
    assert footage_frames(clips, 25) == 100


def test_time_formatting_uses_frames() -> None:
    assert frames_to_minutes_seconds(3750, 25) == "2:30"
    assert frames_to_minutes_seconds(3774, 25) == "2:30"
    rate = parse_rate("25/1")
    assert rate is not None
    assert duration_timecode(1878, rate) == "00:01:15:03"
    ntsc = parse_rate("30000/1001")
    assert ntsc is not None
    assert duration_timecode(1800, ntsc) == "00:01:00;02"
    assert parse_rate("0/1") is None and parse_rate(None) is None and parse_rate("x") is None


def test_status_table_is_bilingual_and_prints_titles_literally(film: Film) -> None:
    s01 = film.scenes[0]
    title = s01.title.model_copy(update={"vi": "[bold]Cảnh[/bold]"})
    hostile = film.model_copy(update={"scenes": [s01.model_copy(update={"title": title}), *film.scenes[1:]]})
    report = status_report(hostile, [clip("u1", None, None)], date(2019, 6, 3))
    console = Console(record=True, width=200, color_system=None)
    console.print(status_table(report))
    text = " ".join(console.export_text().split())  # a table's title may wrap to the table's width
    for words in (
        "Mốc thời gian / Milestones",
        "Chủ đề / Themes",
        "Phân cảnh / Scenes",
        "Chưa gán cảnh / Unassigned",
        "quá hạn 3 ngày / 3 days overdue",
        "Xây dựng Đảng và hệ thống chính trị",
    ):
        assert words in text
    assert "[bold]Cảnh[/bold]" in text


def test_review_settings_default_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from review.settings import ReviewSettings

    monkeypatch.setenv("DOCFILM_HOME", str(tmp_path))
    monkeypatch.delenv("DOCFILM_PACKETS_DIR", raising=False)
    assert ReviewSettings().packet_root() == tmp_path / "packets"
    monkeypatch.setenv("DOCFILM_PACKETS_DIR", str(tmp_path / "usb"))
    assert ReviewSettings().packet_root() == tmp_path / "usb"


def test_status_counts_qc_flags_per_scene() -> None:
    """A scene's QC flags (renders' Proxy.qc) are counted in status, for done proxies only."""
    from datetime import date
    from pathlib import Path

    from review.records import ClipRecord
    from review.status import status_report
    from storyboard.loader import load_film

    film = load_film()
    scene = film.scenes[0]
    flags = [{"rule": "loudness", "message": "−18 LUFS", "start": None, "end": None},
             {"rule": "black", "message": "3 s black", "start": "10:00:02:00", "end": "10:00:05:00"}]

    def clip(asset_id: str, state: str) -> ClipRecord:
        return ClipRecord(asset_id=asset_id, name=f"{asset_id}.mov", scene_id=scene.id, shot_id=scene.shots[0].id,
                          kind="video", duration_frames=50, fps="25/1", width=1920, height=1080, rotation=0,
                          start_timecode="10:00:00:00", sha256=asset_id * 4, proxy=Path(f"/x/{asset_id}.mp4"),
                          poster=Path(f"/x/{asset_id}.jpg"), proxy_state=state, proxy_reason=None,
                          qc={"flags": flags})

    report = status_report(film, [clip("a" * 16, "done"), clip("b" * 16, "failed")], date(2019, 5, 20))
    row = next(s for s in report.scenes if s.id == scene.id)
    assert row.qc_flags == 2


def _render(report: object, width: int, lang: str | None = None) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(status_table(report, lang))  # type: ignore[arg-type]
    return console.export_text()


def test_status_fits_80_columns_with_nothing_cut(film: Film) -> None:
    """At 80 columns no line is wider than the terminal and nothing is cut with "…", even an unbroken token."""
    s01 = film.scenes[0]
    token = "W" * 60  # a pasted string with no space to break at (no other "W" in the report)
    title = s01.title.model_copy(update={"vi": f"Cảnh {token}", "en": f"Scene {token}"})
    long = film.model_copy(update={"scenes": [s01.model_copy(update={"title": title}), *film.scenes[1:]]})
    clips = [clip("a1", s01.id, s01.shots[0].id), clip("u1" + "y" * 70, None, None)]
    report = status_report(long, clips, date(2019, 6, 3))
    for lang, shown in ((None, 60), ("vi", 60), ("en", 60)):
        text = _render(report, 80, lang)
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= 80, lang
        assert "…" not in text, lang
        # The token is folded onto several lines of its column, not cut: every character of it is there.
        assert text.count("W") == shown, lang
        assert not any("W" * 60 in line for line in lines)
    vi, en = _render(report, 80, "vi"), _render(report, 80, "en")
    assert "Phân cảnh" in vi and "Scenes" not in vi and "quá hạn 3 ngày" in vi and "overdue" not in vi
    assert "Scenes" in en and "Phân cảnh" not in en and "3 days overdue" in en and "quá hạn" not in en
    for heading in ("Cảnh quay", "Tư liệu", "Bản xem", "Lỗi KT", "Dự kiến", "Sẵn sàng", "Ý kiến", "Trạng thái"):
        assert heading in vi
    for heading in ("Shots", "Clips", "Proxies", "QC flags", "Planned", "Ready", "Review", "State"):
        assert heading in en


def test_status_is_bilingual_only_where_it_fits(film: Film) -> None:
    report = status_report(film, [], date(2019, 6, 3))
    assert "quá hạn 3 ngày / 3 days overdue" in _render(report, 200)
    narrow = _render(report, 80)
    assert "quá hạn 3 ngày" in narrow and "3 days overdue" not in narrow


def test_status_command_lang_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    monkeypatch.setenv("DOCFILM_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    for lang, mine, other in (("en", "3 days overdue", "quá hạn"), ("vi", "quá hạn 3 ngày", "overdue")):
        result = runner.invoke(app, ["status", "--as-of", "2019-06-03", "--lang", lang], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        assert mine in result.stdout and other not in result.stdout
        assert max(len(line) for line in result.stdout.splitlines()) <= 80 and "…" not in result.stdout
    refused = runner.invoke(app, ["status", "--lang", "fr"])
    assert refused.exit_code == 2
