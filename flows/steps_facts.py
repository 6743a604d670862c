"""The facts flows' Prefect-free steps: who quotes a fact, and the rows of the import and check artifacts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from figures.check import CheckReport, check_film_figures
from figures.importer import ImportResult, import_table

from .results import FactsSummary


def scenes_quoting(film_path: Path) -> dict[str, list[str]]:
    """Fact id → scenes quoting it (linked by the check, or listed on a shot), in the film as it is now.

    A film that does not load quotes nothing (the import still runs; the storyboard check reports the film).
    """
    from storyboard.errors import StoryboardError
    from storyboard.loader import load_film

    try:
        film = load_film(film_path)
    except StoryboardError:
        return {}
    scenes: dict[str, set[str]] = {}
    for figure in check_film_figures(film_path, film).figures:
        if figure.fact:
            scenes.setdefault(figure.fact, set()).add(figure.scene)
    for scene in film.scenes:
        for shot in scene.shots:
            for fact in shot.facts:
                scenes.setdefault(fact, set()).add(scene.id)
    return {fact: sorted(ids) for fact, ids in scenes.items()}


def import_facts(file: Path, film_path: Path, *, sheet: str | None = None, source: str | None = None,
                 url: str | None = None, received: date | None = None) -> ImportResult:
    """`facts import`: the table's facts beside the film, with the scenes quoting each changed figure."""
    return import_table(file, film_path, sheet=sheet, source=source, url=url, received=received,
                        scenes_quoting=scenes_quoting(film_path))


def import_rows(result: ImportResult) -> list[dict[str, str]]:
    """The import artifact's table: one row per changed figure, or one row saying how many were imported."""
    rows = [{"fact": c.fact, "old": c.old, "new": c.new, "scenes": ", ".join(c.scenes) or "no scene",
             "result": "changed"} for c in result.changed]
    if rows:
        return rows
    return [{"fact": f"{result.imported} facts", "old": "", "new": "", "scenes": "",
             "result": "imported, none changed"}]


def check_summary(report: CheckReport) -> FactsSummary:
    """The check's counts as `run --json` and the nightly run give them under `facts`."""
    return FactsSummary(figures=len(report.figures), not_sourced=len(report.not_sourced), counts=report.counts)


def check_rows(report: CheckReport) -> list[dict[str, str]]:
    """The check artifact's table: each figure that is not `sourced`, located as FILE:LINE:COL."""
    return [{"at": f"{f.file}:{f.line}:{f.col}", "text": f.text, "scene": f.scene, "result": f.result,
             "expected": "" if f.expected is None else f"{f.expected:g}"} for f in report.not_sourced]


def check_film(film_path: Path, as_of: date | None = None, home: Path | None = None) -> CheckReport:
    """`facts check` on one storyboard file (and, with DOCFILM_HOME, on its review cut's subtitles)."""
    return check_film_figures(film_path, as_of=as_of, home=home)
