"""Benchmark of `facts check`: 1,000 scenes with 10 figures each against 50,000 facts.

    .venv/bin/python bench/facts.py [--scenes 1000] [--figures 10] [--facts 50000] [--repeat 3]

Makes a synthetic film (built with pydantic's model_construct: scene ids beyond S99 are outside the storyboard
schema) whose Vietnamese narrations state `--figures` figures each, written the Vietnamese way with units
(`1.234,5 tỷ đồng`, `7,5%`), amid years, dates and names that are not figures; every fifth figure is off by a
little so that contradictions are looked for too. Then it prints, best of `--repeat` runs:

- check: indexing the facts, finding every figure and judging it (`figures.check.check_texts`);
- baseline: the same texts scanned by one compiled regex for numbers, the bare minimum any checker does;
- the ratio of the two. Target: check under 2 s.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from datetime import date

from figures.check import FactIndex, FilmText, check_texts
from storyboard.loader import load_film
from storyboard.models import Fact, Scene, SceneState, Source, Text
from storyboard.models import Film as FilmModel

UNITS = [("%", "{v:.1f}", 1), ("tỷ đồng", "{v:,.0f}", 1), ("triệu đồng", "{v:,.2f}", 1), ("ha", "{v:,.0f}", 1),
         ("người", "{v:,.0f}", 1), ("hộ", "{v:,.0f}", 1), ("km", "{v:.1f}", 1), ("xã", "{v:.0f}", 1)]
WORD_LIST = ("tăng trưởng thu ngân sách xuất khẩu đầu tư vốn lao động đào tạo hộ nghèo nông thôn đô thị giao thông "
         "điện nước sạch y tế giáo dục du lịch công nghiệp dịch vụ nông nghiệp thủy sản lúa cây ăn trái")
WORDS = WORD_LIST.split()


def vi_number(value: float, form: str) -> str:
    text = form.format(v=value)
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def build(scenes: int, per_scene: int, facts: int, seed: int = 7) -> tuple[FilmModel, list[FilmText]]:
    rng = random.Random(seed)
    source = Source.model_construct(title="Bench", url=None)
    years = list(range(1971, 2021))
    records: list[Fact] = []
    for i in range(facts):
        unit, form, _ = UNITS[i % len(UNITS)]
        words = " ".join(rng.sample(WORDS, 3))
        value = round(rng.uniform(1, 99999), 2)
        value = float(form.format(v=value).replace(",", ""))
        records.append(Fact.model_construct(
            id=f"f{i}", label=Text.model_construct(vi=f"Chỉ tiêu {words}", en=f"Indicator {i}"),
            value=format(value, "g") if value < 1e6 else str(value), unit=unit, year=years[i % len(years)],
            status="actual", source=source, as_of=None, provenance=None))
    texts: list[FilmText] = []
    scene_models: list[Scene] = []
    for s in range(scenes):
        parts: list[str] = []
        for k in range(per_scene):
            fact = records[rng.randrange(facts)]
            unit, form, _ = next(u for u in UNITS if u[0] == fact.unit)
            value = float(fact.value) * (1.07 if k % 5 == 4 else 1)
            parts.append(f"Năm {fact.year}, {fact.label.vi.lower()} đạt {vi_number(value, form)} {unit}"
                         f" theo Nghị quyết {k + 1} khóa XII, ngày {k + 1}/5/2019.")
        narration = " ".join(parts)
        sid = f"S{s + 1:04d}"
        texts.append(FilmText(sid, ("scenes", s, "narration", "vi"), "vi", narration))
        scene_models.append(Scene.model_construct(
            id=sid, theme="t", order=s + 1, title=Text.model_construct(vi=sid, en=sid),
            narration=Text.model_construct(vi=narration, en=narration), planned_frames=25,
            state=SceneState.planned, shots=[]))
    film = FilmModel.model_construct(
        schema_version=1, film=load_film().film, milestones=[], themes=[], include=[],
        facts=records, scenes=scene_models)
    return film, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--figures", type=int, default=10)
    parser.add_argument("--facts", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    film, texts = build(args.scenes, args.figures, args.facts)

    def locate(loc: tuple[str | int, ...], text: str, offset: int) -> tuple[int, int]:
        return int(loc[1]) + 1, offset + 1

    bare = re.compile(r"\d+(?:[.,]\d+)*")
    check_times, bare_times = [], []
    report = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        found = sum(1 for item in texts for _ in bare.finditer(item.text))
        bare_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = check_texts(film, texts, "bench.yaml", locate, as_of=date(2021, 1, 1), index=FactIndex(film.facts))
        check_times.append(time.perf_counter() - started)
    assert report is not None
    check, baseline = min(check_times), min(bare_times)
    print(f"{args.scenes} scenes x {args.figures} figures against {args.facts} facts: "
          f"{len(report.figures)} figures found ({found} digit runs by the bare regex)")
    print(f"results: {report.counts}")
    print(f"check    {check:.3f} s (index, find, judge; best of {args.repeat})")
    print(f"baseline {baseline:.3f} s (one compiled regex over the same texts)")
    print(f"ratio    {check / baseline:.1f}x the bare scan; target: check under 2 s -> "
          f"{'met' if check < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
