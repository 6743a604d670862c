"""The `docfilm status` tables for a terminal: one language, or both where they fit.

Every column but one (a title or a note) is as wide as its widest line, so no heading or value is ever cut
with "…"; the flexible column takes the rest and wraps. Bilingual (Vietnamese over English in headings,
"vi / en" in cells) is used only when every table fits the terminal that way; otherwise Vietnamese alone,
unless the reader asked for a language (`--lang vi|en`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from review.labels import (
    MILESTONE_STATES,
    REVIEW_STATES,
    SCENE_STATES,
    STATUS_WORDS,
    VERDICTS,
    Label,
    Lang,
    days_left_label,
    frames_to_minutes_seconds,
    lookup,
)

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, JustifyMethod, RenderResult

    from review.status import StatusReport

# Narrowest the flexible column may be for a layout to count as fitting.
_FLEX_MIN = 24
_W = STATUS_WORDS
Part = Label | str  # a Label is shown in the chosen language(s); a str (ids, numbers, user text) as it is
Cell = Part | tuple[Part, ...]  # parts joined, e.g. a state and a count after it


@dataclass(frozen=True)
class _Column:
    header: Label
    justify: JustifyMethod = "left"
    flexible: bool = False


@dataclass
class _Spec:
    """One table before a language is chosen."""

    title: list[Cell]  # joined; each Label in the chosen language(s)
    columns: list[_Column]
    rows: list[tuple[list[Cell], str]] = field(default_factory=list)

    def add(self, *cells: Cell, style: str = "") -> None:
        self.rows.append((list(cells), style))


def _text(cell: Cell, lang: Lang | None) -> str:
    if isinstance(cell, tuple):
        return "".join(_text(part, lang) for part in cell)
    return cell if isinstance(cell, str) else cell.text(lang)


def _header(label: Label, lang: Lang | None) -> str:
    if lang is None and label.vi != label.en:
        return f"{label.vi}\n{label.en}"
    return label.text(lang or "vi")


def _widths(spec: _Spec, lang: Lang | None) -> list[int]:
    """Each column's widest line (heading included)."""
    widths = []
    for i, column in enumerate(spec.columns):
        lines = _header(column.header, lang).split("\n")
        for cells, _style in spec.rows:
            lines.extend(_text(cells[i], lang).split("\n"))
        widths.append(max(cell_len(line) for line in lines))
    return widths


def _fits(spec: _Spec, lang: Lang | None, width: int) -> bool:
    widths = _widths(spec, lang)
    # Borders and one space of padding each side of every column.
    needed = 3 * len(widths) + 1
    for column, natural in zip(spec.columns, widths, strict=True):
        needed += min(natural, _FLEX_MIN) if column.flexible else natural
    return needed <= width


def _table(spec: _Spec, lang: Lang | None) -> Table:
    table = Table(title="".join(_text(part, lang) for part in spec.title), title_justify="left", padding=(0, 1))
    for column, natural in zip(spec.columns, _widths(spec, lang), strict=True):
        # Fixed widths for all but the flexible column, so Rich shrinks only that one; "fold" rather than "…".
        table.add_column(Text(_header(column.header, lang)), justify=column.justify, overflow="fold",
                         width=None if column.flexible else natural)
    for cells, style in spec.rows:
        table.add_row(*(Text(_text(c, lang)) for c in cells), style=style)
    return table


def _specs(report: StatusReport) -> Iterator[_Spec]:
    as_of = report.as_of.isoformat()
    milestones = _Spec([_W["milestones"], " — ", _W["as_of"], f" {as_of}"],
                       [_Column(_W["milestone"], flexible=True), _Column(_W["due"]), _Column(_W["state"])])
    for m in report.milestones:
        when = days_left_label(m.days_left) if m.state != "no-date" else MILESTONE_STATES["no-date"]
        milestones.add(Label(m.title_vi, m.title_en), m.due.isoformat() if m.due else "—", when,
                       style={"overdue": "bold red", "due-today": "bold yellow"}.get(m.state, ""))
    yield milestones

    themes = _Spec([_W["themes"]], [_Column(_W["theme"], flexible=True), _Column(_W["scenes"], "right"),
                                  _Column(_W["ready_for_review"], "right")])
    for t in report.themes:
        themes.add(Label(t.title_vi, t.title_en), str(t.scenes), str(t.ready))
    yield themes

    scenes = _Spec([_W["scenes"]], [_Column(_W["scene"]), _Column(_W["title"], flexible=True),
                                  _Column(_W["scene_state"]), _Column(_W["review"])])
    footage = _Spec([_W["footage"]], [_Column(_W["scene"]), _Column(_W["shots"], "right"),
                                    _Column(_W["clips"], "right"), _Column(_W["proxies"], "right"),
                                    _Column(_W["qc_flags"], "right"), _Column(_W["planned"], "right"),
                                    _Column(_W["ready"])])
    for s in report.scenes:
        review = (lookup(REVIEW_STATES, s.review), f" ({len(s.notes)})" if s.notes else "")
        style = "red" if s.review == "changes-requested" else "green" if s.ready else ""
        scenes.add(s.id, Label(s.title_vi, s.title_en), lookup(SCENE_STATES, s.state), review, style=style)
        footage.add(s.id, f"{s.shots_covered}/{s.shots}", str(s.assets), str(s.proxies), str(s.qc_flags),
                    frames_to_minutes_seconds(s.planned_frames, report.fps),
                    _W["yes"] if s.ready else _W["not_yet"], style=style)
    yield scenes
    yield footage

    if report.cut is not None:
        r = report.cut.runtimes
        title: list[Cell] = [_W["runtime"], f" — v{report.cut.version}, ", _W["target"], f" {r.target}"]
        runtime = _Spec(title, [_Column(_W["theme"], flexible=True), _Column(_W["as_cut"], "right"),
                                _Column(_W["planned"], "right"), _Column(_W["difference"], "right")])
        for row in r.themes:
            runtime.add(row.title, row.cut, row.planned, row.delta)
        runtime.add(r.total.title, r.total.cut, r.total.planned, r.total.delta,
                    style="bold red" if r.over_target else "bold")
        yield runtime

    noted = [s for s in report.scenes if s.notes]
    if noted:
        notes = _Spec([_W["notes"]], [_Column(_W["scene"]), _Column(_W["reviewer"]), _Column(_W["verdict"]),
                                    _Column(_W["timecode"]), _Column(_W["note"], flexible=True)])
        for s in noted:
            for n in s.notes:
                notes.add(s.id, n.reviewer, lookup(VERDICTS, n.verdict), n.timecode or "—", n.text)
        yield notes
    if report.unassigned:
        unassigned = _Spec([_W["unassigned"]], [_Column(_W["clip"], flexible=True), _Column(_W["scene_given"])])
        for u in report.unassigned:
            unassigned.add(u.name, u.scene_id or "—")
        yield unassigned
    if report.quarantined:
        held = _Spec([_W["quarantined"]], [_Column(_W["clip"]), _Column(_W["scene"]),
                                          _Column(_W["reason"], flexible=True)])
        for q in report.quarantined:
            held.add(q.name, q.scene_id or "—", q.reason, style="red")
        yield held


class StatusTables:
    """A renderable of the status tables that picks its language from the width it is given."""

    def __init__(self, report: StatusReport, lang: Lang | None = None) -> None:
        self.report = report
        self.lang = lang

    def language(self, width: int) -> Lang | None:
        """The language asked for; else both (None) when every table fits `width` that way, else Vietnamese."""
        if self.lang is not None:
            return self.lang
        return None if all(_fits(spec, None, width) for spec in _specs(self.report)) else "vi"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lang = self.language(options.max_width)
        for spec in _specs(self.report):
            yield _table(spec, lang)
