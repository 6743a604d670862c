"""Where each theme and scene stands against the milestones: the `docfilm status` report."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from core.timecode import parse_rate
from review.coverage import assign_clips
from review.labels import (
    MILESTONE_STATES,
    REVIEW_STATES,
    SCENE_STATES,
    VERDICTS,
    days_left_label,
    frames_to_minutes_seconds,
    lookup,
    rescale_frames,
)
from review.notes import ReviewNote, notes_by_scene, scene_review_states
from review.records import ClipRecord

if TYPE_CHECKING:
    from rich.console import RenderableType

    from storyboard.models import Film, Milestone


def milestone_state(due: date | None, as_of: date) -> tuple[int | None, str]:
    """Days left (negative when overdue, None without a date) and the state of a milestone on `as_of`."""
    if due is None:
        return None, "no-date"
    days_left = (due - as_of).days
    if days_left > 0:
        return days_left, "upcoming"
    if days_left == 0:
        return 0, "due-today"
    return days_left, "overdue"


def footage_frames(clips: Iterable[ClipRecord], film_fps: int) -> int:
    """Total running time of the video and audio clips, in frames at the film's rate (stills count 0)."""
    total = 0
    for clip in clips:
        rate = parse_rate(clip.fps)
        if clip.kind == "still" or clip.duration_frames is None or rate is None:
            continue
        total += rescale_frames(clip.duration_frames, rate, film_fps)
    return total


def _milestone_entry(milestone: Milestone, as_of: date) -> dict[str, Any]:
    days_left, state = milestone_state(milestone.due, as_of)
    return {
        "id": milestone.id,
        "due": milestone.due.isoformat() if milestone.due else None,
        "days_left": days_left,
        "state": state,
        "title_vi": milestone.title.vi,
        "title_en": milestone.title.en,
    }


def _note_entry(note: ReviewNote) -> dict[str, Any]:
    return {
        "id": note.note_id,
        "reviewer": note.reviewer,
        "verdict": note.verdict,
        "asset_id": note.asset_id,
        "timecode": note.timecode,
        "text": note.text,
        "written_at": note.written_at.isoformat(),
    }


def status_report(
    film: Film, clips: Iterable[ClipRecord], as_of: date, notes: Iterable[ReviewNote] = ()
) -> dict[str, Any]:
    """The `docfilm status --json` object for `film` and the ledger's `clips` on `as_of`.

    Milestone state is "upcoming" (days_left > 0), "due-today" (0), "overdue" (days_left < 0, negative) or
    "no-date" (days_left null). A scene is ready, and counts in its theme's `ready`, when each of its shots
    has at least one clip whose proxy is done; a scene without shots is ready once it has one clip with a
    done proxy (see `review.coverage.Coverage`). Per scene, `assets` counts its clips and `proxies` those
    with a done proxy. Clips that belong to no scene of the film are listed under `unassigned`. Reviewers'
    imported `notes` are listed per scene (`notes`) with the scene's `review` state: "approved",
    "changes-requested" or "no-review" (see `review.notes.scene_review_states`).
    """
    coverage = assign_clips(film, clips)
    notes = [n for n in notes if n.film_id == film.film.id]
    grouped = notes_by_scene(notes)
    reviews = scene_review_states(notes)
    scenes_out: list[dict[str, Any]] = []
    ready_by_theme: dict[str, int] = {}
    count_by_theme: dict[str, int] = {}
    for scene in sorted(film.scenes, key=lambda s: (s.order, s.id)):
        footage = coverage.of(scene)
        scene_clips = footage.clips
        ready = footage.is_ready()
        count_by_theme[scene.theme] = count_by_theme.get(scene.theme, 0) + 1
        ready_by_theme[scene.theme] = ready_by_theme.get(scene.theme, 0) + int(ready)
        scenes_out.append(
            {
                "id": scene.id,
                "theme": scene.theme,
                "state": str(scene.state),
                "assets": len(scene_clips),
                "proxies": sum(1 for c in scene_clips if c.has_done_proxy),
                "failed": sum(1 for c in scene_clips if c.proxy_state == "failed"),
                "qc_flags": sum(len((c.qc or {}).get("flags") or []) for c in scene_clips if c.has_done_proxy),
                "ready": ready,
                "title_vi": scene.title.vi,
                "title_en": scene.title.en,
                "planned_frames": scene.planned_frames,
                "footage_frames": footage_frames(scene_clips, film.film.fps),
                "shots": len(scene.shots),
                "shots_covered": len(footage.covered_shots()),
                "review": reviews.get(scene.id, "no-review"),
                "notes": [_note_entry(n) for n in grouped.get(scene.id, [])],
            }
        )
    themes_out = [
        {
            "id": theme.id,
            "scenes": count_by_theme.get(theme.id, 0),
            "ready": ready_by_theme.get(theme.id, 0),
            "title_vi": theme.title.vi,
            "title_en": theme.title.en,
        }
        for theme in sorted(film.themes, key=lambda t: (t.order, t.id))
    ]
    return {
        "as_of": as_of.isoformat(),
        "film": film.film.id,
        "fps": film.film.fps,
        "milestones": [_milestone_entry(m, as_of) for m in film.milestones],
        "themes": themes_out,
        "scenes": scenes_out,
        "planned_frames": sum(scene.planned_frames for scene in film.scenes),
        "target_runtime_frames": film.film.target_runtime_frames,
        "unassigned": [
            {"asset_id": c.asset_id, "name": c.name, "scene_id": c.scene_id, "shot_id": c.shot_id}
            for c in coverage.unassigned
        ],
    }


def status_table(report: dict[str, Any]) -> RenderableType:
    """Rich tables of a `status_report`: milestones, themes, scenes; Vietnamese first, English beside it."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    def both(vi: object, en: object) -> Text:
        # Text, not str: a title containing "[bold]" must print as written, not as Rich markup.
        return Text(f"{vi} / {en}")

    fps = int(report["fps"])
    milestones = Table(
        title=f"Mốc thời gian / Milestones — tính đến / as of {report['as_of']}", title_justify="left"
    )
    milestones.add_column("Mốc / Milestone")
    milestones.add_column("Hạn / Due")
    milestones.add_column("Tình trạng / State")
    for m in report["milestones"]:
        style = {"overdue": "bold red", "due-today": "bold yellow"}.get(m["state"], "")
        when = days_left_label(m["days_left"]) if m["state"] != "no-date" else MILESTONE_STATES["no-date"]
        milestones.add_row(
            both(m.get("title_vi", m["id"]), m.get("title_en", m["id"])),
            m["due"] or "—",
            when.both(),
            style=style,
        )

    themes = Table(title="Chủ đề / Themes", title_justify="left")
    themes.add_column("Chủ đề / Theme")
    themes.add_column("Phân cảnh / Scenes", justify="right")
    themes.add_column("Sẵn sàng duyệt / Ready", justify="right")
    for t in report["themes"]:
        themes.add_row(
            both(t.get("title_vi", t["id"]), t.get("title_en", t["id"])), str(t["scenes"]), str(t["ready"])
        )

    scenes = Table(title="Phân cảnh / Scenes", title_justify="left")
    scenes.add_column("Cảnh / Scene")
    scenes.add_column("Tên / Title")
    scenes.add_column("Trạng thái / State")
    scenes.add_column("Cảnh quay / Shots", justify="right")
    scenes.add_column("Tư liệu / Clips", justify="right")
    scenes.add_column("Bản xem / Proxies", justify="right")
    scenes.add_column("Lỗi KT / QC flags", justify="right")
    scenes.add_column("Dự kiến / Planned", justify="right")
    scenes.add_column("Sẵn sàng / Ready")
    scenes.add_column("Ý kiến / Review")
    for s in report["scenes"]:
        shots = f"{s['shots_covered']}/{s['shots']}" if "shots" in s else "—"
        planned = frames_to_minutes_seconds(s["planned_frames"], fps) if "planned_frames" in s else "—"
        ready = "có / yes" if s.get("ready") else "chưa / not yet"
        review = lookup(REVIEW_STATES, s.get("review", "no-review")).both()
        if s.get("notes"):
            review += f" ({len(s['notes'])})"
        scenes.add_row(
            Text(s["id"]),
            both(s.get("title_vi", ""), s.get("title_en", "")),
            lookup(SCENE_STATES, s["state"]).both(),
            shots,
            str(s["assets"]),
            str(s["proxies"]),
            str(s.get("qc_flags", 0)),
            planned,
            ready,
            review,
            style="red" if s.get("review") == "changes-requested" else "green" if s.get("ready") else "",
        )
    parts: list[RenderableType] = [milestones, themes, scenes]
    noted = [s for s in report["scenes"] if s.get("notes")]
    if noted:
        notes = Table(title="Ý kiến người duyệt / Reviewers' notes", title_justify="left")
        notes.add_column("Cảnh / Scene")
        notes.add_column("Người góp ý / Reviewer")
        notes.add_column("Đánh giá / Verdict")
        notes.add_column("TC")
        notes.add_column("Nội dung / Note")
        for s in noted:
            for n in s["notes"]:
                notes.add_row(Text(s["id"]), Text(n["reviewer"]), lookup(VERDICTS, n["verdict"]).both(),
                              Text(n["timecode"] or "—"), Text(n["text"]))
        parts.append(notes)
    if report.get("unassigned"):
        unassigned = Table(title="Chưa gán cảnh / Unassigned", title_justify="left")
        unassigned.add_column("Tư liệu / Clip")
        unassigned.add_column("Cảnh ghi / Scene given")
        for u in report["unassigned"]:
            unassigned.add_row(Text(u["name"]), Text(u["scene_id"] or "—"))
        parts.append(unassigned)
    return Group(*parts)
