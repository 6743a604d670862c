"""`facts check`: every figure the film states (narration vi/en, titles, graphics shots), checked against facts.

A figure is `sourced` when a fact of the film has the same value at the precision shown, a compatible unit
and the year the sentence (else the scene) gives; `contradicts` when a fact of the same indicator and year
has another value; `unsourced` when none is found; `status-mismatch` when a target or an estimate is stated
without a hedge word in its sentence; `not-yet-known` when the fact was received, or is dated, after the
as-of date.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

from core.collector import collector_paused
from figures.mentions import Mention, find_mentions, years_in
from figures.numbers import Amount, Unit, parse_value, unit_of
from figures.subtitles import Cue, cue_position, cut_subtitles
from storyboard.models import Fact, Film

Result = Literal["sourced", "contradicts", "unsourced", "status-mismatch", "not-yet-known"]
RESULTS: tuple[Result, ...] = ("contradicts", "unsourced", "status-mismatch", "not-yet-known", "sourced")
TextLoc = tuple[str | int, ...]

_STOP_WORDS = (
    "của và là có được về cho các những năm đạt ước thành phố bằng tương đương "
    "the of a an in on to by at is was were it its with this that from for as city city's about reached grew "
    "estimated estimate"
)
_STOP = frozenset(_STOP_WORDS.split())
_PERIOD = re.compile(r"((?:19|20)\d\d)\s?[–—-]\s?((?:19|20)\d\d)")
_WORD = re.compile(r"[^\W\d_]{2,}")  # words of two letters or more


@dataclass(frozen=True)
class FigureCheck:
    """One figure the film states and what the check found for it."""

    file: str
    line: int
    col: int
    text: str
    scene: str
    field: str
    value: float
    unit: str | None
    year: int | None
    result: Result
    fact: str | None
    expected: float | None
    sentence: str
    offset: int  # of the figure within `sentence`
    lang: str = "vi"  # of the text stating it

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "col": self.col, "text": self.text, "scene": self.scene,
                "value": self.value, "unit": self.unit, "year": self.year, "result": self.result,
                "fact": self.fact, "expected": self.expected}

    def format(self) -> str:
        """`FILE:LINE:COL: field: message`, like the storyboard's problems."""
        why = {
            "sourced": f"sourced by fact {self.fact}",
            "contradicts": f"contradicts fact {self.fact} ({self.year}: {self.expected:g})" if self.expected
            is not None else f"contradicts fact {self.fact}",
            "unsourced": f"no fact of {self.year or 'any year'} states this figure",
            "status-mismatch": f"fact {self.fact} is a target or an estimate, but the sentence states it as achieved "
                               "(say ước, dự kiến, mục tiêu, kế hoạch or khoảng)",
            "not-yet-known": f"fact {self.fact} was received or is dated after the as-of date",
        }[self.result]
        return f"{self.file}:{self.line}:{self.col}: {self.field}: figure {self.text!r}: {self.result}: {why}"


@dataclass(frozen=True)
class CheckReport:
    """Every figure of the film, in file order, with the count of each result."""

    figures: list[FigureCheck]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(RESULTS, 0)
        for figure in self.figures:
            counts[figure.result] += 1
        return counts

    @property
    def not_sourced(self) -> list[FigureCheck]:
        return [f for f in self.figures if f.result != "sourced"]

    def to_json(self) -> dict[str, object]:
        return {"figures": [f.to_json() for f in self.figures], "counts": self.counts}


@lru_cache(maxsize=65536)
def _tokens(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower())) - _STOP


class _Entry(NamedTuple):
    # a NamedTuple, not a frozen dataclass: 50,000 of them are made per check (bench/facts.py)
    fact: Fact
    low: Amount
    high: Amount | None
    unit: Unit
    base: float  # the low value in base units, for the bisect index


class FactIndex:
    """The film's facts, indexed by year and unit kind (value-sorted); the words of their labels on demand.

    Only figures that match no value (or more than one fact) need the labels' words, so a label is split into
    words the first time such a figure looks at its fact.
    """

    def __init__(self, facts: Iterable[Fact]) -> None:
        with collector_paused():
            self._index(facts)

    def _index(self, facts: Iterable[Fact]) -> None:
        values: dict[tuple[int, str | None], list[tuple[float, int]]] = defaultdict(list)
        entries: list[_Entry] = []
        # the labels' text, taken while each fact is at hand: read later in a year's order, fact by fact, it
        # was most of the time of the first contradiction of each year (a cache miss at every attribute)
        labels: list[str] = []
        for fact in facts:
            parsed = parse_value(fact.value)
            if parsed is None:
                continue  # a value such as "13/13" or "5.12 → 3.21" states no single number to match
            unit = unit_of(fact.unit)
            low = parsed[0]
            item = (float(low.value * unit.scale), len(entries))
            entries.append(_Entry(fact, low, parsed[1], unit, item[0]))
            labels.append(f"{fact.label.vi} {fact.label.en}")
            values[(fact.year, unit.kind)].append(item)
            if unit.kind is not None:
                values[(fact.year, None)].append(item)  # a figure without a unit may state any kind
        for bucket in values.values():
            bucket.sort()
        self.entries = entries
        self._labels = labels
        self._values = dict(values)
        # the bucket's values alone, for bisect: comparing floats is several times cheaper than tuples
        self._keys = {key: [base for base, _ in bucket] for key, bucket in values.items()}
        self._years = sorted({y for y, _ in values})
        self._words: dict[int, frozenset[str]] = {}
        self._label_words: dict[str, frozenset[str]] = {}
        self._buckets: dict[tuple[int, str | None], tuple[list[int], dict[str, list[int]], dict[str, int]]] = {}

    def words(self, index: int) -> frozenset[str]:
        """The words of a fact's labels (vi and en), stop words included: they are only ever intersected with
        a figure's context, which has none, and leaving them in saves a set difference per fact."""
        found = self._words.get(index)
        if found is None:
            text = self._labels[index]
            found = self._label_words.get(text)
            if found is None:  # a table gives one label to the figures of every year
                found = self._label_words[text] = frozenset(_WORD.findall(text.lower()))
            self._words[index] = found
        return found

    def same_value(self, mention: Mention, year: int | None) -> list[int]:
        """Facts of that year (any year when None) with the mention's value at its precision and a compatible unit."""
        scale = mention.unit.scale if mention.unit.kind is not None else Decimal(1)
        half = float(Decimal("0.5").scaleb(-mention.amount.decimals) * scale) * 1.000001 + 1e-9
        base = float(mention.amount.value * scale)
        found: list[int] = []
        for y in [year] if year is not None else self._years:
            values = self._values.get((y, mention.unit.kind))
            if not values:
                continue
            keys = self._keys[(y, mention.unit.kind)]
            i, high = bisect.bisect_left(keys, base - half), base + half
            while i < len(keys) and keys[i] <= high:  # no slice: a value matches few of thousands
                if _equal(mention, self.entries[values[i][1]]):
                    found.append(values[i][1])
                i += 1
        return found

    def same_indicator(self, mention: Mention, year: int | None) -> int | None:
        """The fact of that year and unit whose label shares most words (two at least) with the figure's context.

        Ties go to the fact given first.
        """
        if year is None:
            return None
        context = _tokens(mention.context)
        if len(context) < 2:
            return None
        indices, postings, masks = self._bucket_words(year, mention.unit.kind)
        if not indices:
            return None
        shared: list[int] = []
        for word in context:
            mask = masks.get(word)
            if mask is None:
                if word not in postings:
                    continue
                mask = masks[word] = _bits(postings[word])
            shared.append(mask)
        best, score = _most_shared(shared)
        if score < 2:
            return None
        return indices[(best & -best).bit_length() - 1]  # the lowest bit: the fact given first

    def _bucket_words(self, year: int, kind: str | None) -> tuple[list[int], dict[str, list[int]], dict[str, int]]:
        """The facts of a (year, unit kind) in the order they were given; for each word of their labels, the
        positions (in that order) of the facts whose label has it; and, filled on demand, those positions as the
        bits of an int (bit i: the i-th fact)."""
        found = self._buckets.get((year, kind))
        if found is None:
            indices = sorted(index for _, index in self._values.get((year, kind), ()))
            postings: dict[str, list[int]] = defaultdict(list)
            for position, index in enumerate(indices):
                for word in self.words(index):
                    postings[word].append(position)
            found = self._buckets[(year, kind)] = (indices, dict(postings), {})
        return found


def _bits(positions: list[int]) -> int:
    """Ascending positions as the set bits of an int."""
    bitmap = bytearray(positions[-1] // 8 + 1)
    for position in positions:
        bitmap[position >> 3] |= 1 << (position & 7)
    return int.from_bytes(bitmap, "little")


def _most_shared(masks: Sequence[int]) -> tuple[int, int]:
    """Among the facts, as bits, the ones found in most of `masks`, and in how many (0 when no mask).

    The count of each fact is summed bit-sliced (`planes[j]`: the facts whose count has bit j), so that the
    work is per word of the context, not per fact of the year: a year may hold thousands of facts.
    """
    planes: list[int] = []
    for mask in masks:
        carry = mask
        for j, plane in enumerate(planes):
            planes[j], carry = plane ^ carry, plane & carry
            if not carry:
                break
        if carry:
            planes.append(carry)
    best, score = -1, 0
    for j in range(len(planes) - 1, -1, -1):
        narrowed = best & planes[j]
        if narrowed:
            best, score = narrowed, score | (1 << j)
    return (best if score else 0), score


def _equal(mention: Mention, entry: _Entry) -> bool:
    if (mention.high is None) != (entry.high is None):
        return False
    if mention.unit.kind is not None and entry.unit.kind is not None and mention.unit.kind != entry.unit.kind:
        return False
    scale_m = mention.unit.scale if mention.unit.kind is not None else entry.unit.scale
    pairs = [(mention.amount, entry.low)]
    if mention.high is not None and entry.high is not None:
        pairs.append((mention.high, entry.high))
    for stated, fact in pairs:
        shown = (fact.value * entry.unit.scale / scale_m).quantize(Decimal(1).scaleb(-stated.decimals),
                                                                  rounding=ROUND_HALF_UP)
        if shown != stated.value:
            return False
    return True


def known_on(fact: Fact, as_of: date) -> bool:
    """Whether the fact was known on that day, by the packet's rule (`review.cards.fact_is_known`) and its receipt.

    Not for a later year, nor when received or dated after that day; for the running year only when a target
    or dated by then.
    """
    dates = [d for d in (fact.as_of, fact.provenance.received if fact.provenance else None) if d is not None]
    if fact.year > as_of.year or any(d > as_of for d in dates):
        return False
    return fact.status == "target" or fact.year < as_of.year or bool(dates)


def judge(mention: Mention, year: int | None, index: FactIndex, as_of: date | None,
          other_year: int | None = None) -> tuple[Result, _Entry | None]:
    """The result for one figure and the fact it was matched to (`other_year`: a period's first year)."""
    same = index.same_value(mention, year)
    if not same and other_year is not None:
        same = index.same_value(mention, other_year)
    if same:
        if len(same) > 1:
            words = _tokens(mention.context)
            same.sort(key=lambda i: (-len(words & index.words(i)),
                                     index.entries[i].fact.status in ("target", "estimate") and not mention.hedged))
        entry = index.entries[same[0]]
        if as_of is not None and not known_on(entry.fact, as_of):
            return "not-yet-known", entry
        if entry.fact.status in ("target", "estimate") and not mention.hedged:
            return "status-mismatch", entry
        return "sourced", entry
    other = index.same_indicator(mention, year)
    if other is not None:
        return "contradicts", index.entries[other]
    return "unsourced", None


@dataclass(frozen=True)
class FilmText:
    """One text of the film where figures are stated: its scene, field, language and location in the YAML."""

    scene: str
    loc: TextLoc
    lang: str
    text: str


def film_texts(film: Film) -> Iterator[FilmText]:
    """Narration (vi, en), titles and descriptions of graphics shots, scene by scene."""
    for si, scene in enumerate(film.scenes):
        for part in ("title", "narration"):
            text = getattr(scene, part)
            for lang in ("vi", "en"):
                yield FilmText(scene.id, ("scenes", si, part, lang), lang, getattr(text, lang))
        for hi, shot in enumerate(scene.shots):
            if shot.kind == "graphics":
                for lang in ("vi", "en"):
                    yield FilmText(scene.id, ("scenes", si, "shots", hi, "description", lang), lang,
                                   getattr(shot.description, lang))


def _scene_years(film: Film) -> dict[str, int | None]:
    years: dict[str, int | None] = {}
    for scene in film.scenes:
        found = years_in(scene.narration.vi) or years_in(scene.narration.en)
        years[scene.id] = found[0][1] if found else None
    return years


Locator = Callable[[TextLoc, str, int], tuple[int, int]]


def check_texts(film: Film, texts: Sequence[FilmText], file: str, where: Locator,
                as_of: date | None = None, index: FactIndex | None = None) -> CheckReport:
    """Check the figures of these texts; `where(loc, text, offset)` gives the line and column of a character."""
    # A check makes hundreds of thousands of small objects without cycles, and each collection they trigger walks
    # every object of the loaded film (50,000 facts in bench/facts.py: 14 % of the check's time).
    with collector_paused():
        return _check_texts(film, texts, file, where, as_of, index)


def _check_texts(film: Film, texts: Sequence[FilmText], file: str, where: Locator,
                 as_of: date | None, index: FactIndex | None) -> CheckReport:
    index = index or FactIndex(film.facts)
    scene_years = _scene_years(film)
    results: list[FigureCheck] = []
    for item in texts:
        mentions = find_mentions(item.text, item.lang)
        text_years = years_in(item.text) if mentions else []
        field = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in item.loc).replace(".[", "[")
        for mention in mentions:
            year = mention.year
            if year is None:
                before = [y for o, y in text_years if o < mention.sentence[0]]
                year = before[-1] if before else scene_years.get(item.scene)
            s_start, s_end = mention.sentence
            period = _PERIOD.search(item.text[s_start:s_end]) if year is not None else None
            start_year = int(period.group(1)) if period and int(period.group(2)) == year else None
            result, entry = judge(mention, year, index, as_of, start_year)
            line, col = where(item.loc, item.text, mention.start)
            s_start, s_end = mention.sentence
            raw = item.text[s_start:s_end]
            results.append(FigureCheck(
                file=file, line=line, col=col, text=mention.text, scene=item.scene,
                field=field,
                value=float(mention.amount.value), unit=mention.unit_text, year=year, result=result,
                fact=entry.fact.id if entry else None,
                expected=float(entry.low.value) if entry else None,
                sentence=item.text[s_start:s_end].strip(),
                offset=mention.start - s_start - (len(raw) - len(raw.lstrip())),
                lang=item.lang,
            ))
    results.sort(key=lambda f: (f.line, f.col))
    return CheckReport(results)


def _cue_locator(cues: Sequence[Cue]) -> Locator:
    def where(loc: TextLoc, text: str, offset: int) -> tuple[int, int]:
        return cue_position(cues[int(loc[-1])], offset)
    return where


def subtitle_figures(film: Film, home: Path, as_of: date | None = None,
                     index: FactIndex | None = None) -> list[FigureCheck]:
    """The figures of the review cut's subtitles (none before `cut render` wrote them), located in the .vtt files.

    Each cue belongs to the scene whose chapter on the cut contains it; its year comes from the cue, else that scene.
    """
    from editorial.paths import SUBTITLE_LANGS, chapters_file, review_dir, subtitles_file

    folder = review_dir(home, film.film.id)
    files = cut_subtitles(chapters_file(folder), {lang: subtitles_file(folder, lang) for lang in SUBTITLE_LANGS})
    found: list[FigureCheck] = []
    for sub in files:
        texts = [FilmText(scene or "", ("subtitles", sub.lang, i), sub.lang, cue.text)
                 for i, (cue, scene) in enumerate(zip(sub.cues, sub.scenes, strict=True))]
        index = index or FactIndex(film.facts)
        found += check_texts(film, texts, str(sub.path), _cue_locator(sub.cues), as_of,
                             index).figures
    return found


def check_film_figures(path: Path, film: Film | None = None, as_of: date | None = None,
                       home: Path | None = None) -> CheckReport:
    """Every figure a storyboard file states, located as FILE:LINE:COL and checked against all its facts.

    With `home` (DOCFILM_HOME), the review cut's subtitles are checked too once `cut render` has written them.
    """
    from figures.positions import TextLocator
    from storyboard.loader import load_film

    film = film or load_film(path)
    locator = TextLocator(path)
    index = FactIndex(film.facts)
    report = check_texts(film, list(film_texts(film)), str(path), locator.locate, as_of, index)
    if home is None:
        return report
    return CheckReport(report.figures + subtitle_figures(film, home, as_of, index))
