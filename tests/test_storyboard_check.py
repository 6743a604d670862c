"""`check_film`: every problem of a storyboard file, at the line and column of its YAML node."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml

from core.errors import DocfilmError
from storyboard.loader import (
    Problem,
    StoryboardInvalid,
    StoryboardUnreadable,
    bundled_film_path,
    check_film,
    load_film,
)

# A small valid film; tests break it by replacing one unique snippet and compute the expected position
# from the snippet itself, so the expectations cannot drift from the text.
VALID = """\
schema_version: 1
film:
  id: test-film
  title: {vi: "Phim thử", en: "Test film"}
  commission:
    reference: "1-CV/TU"
    dated: 2019-05-06
    issuer: {vi: "Ban Thường vụ", en: "Standing Board"}
    summary: {vi: "Tóm tắt", en: "Summary"}
  producer: {vi: "Đài", en: "Station"}
  fps: 25
  target_runtime_frames: 3000
  term: "2020–2025"
milestones:
  - id: review
    title: {vi: "Duyệt", en: "Review"}
    due: 2019-05-31
themes:
  - id: alpha
    order: 1
    title: {vi: "Chủ đề một", en: "Theme one"}
  - id: beta
    order: 2
    title: {vi: "Chủ đề hai", en: "Theme two"}
facts:
  - id: growth
    label: {vi: "Tăng trưởng", en: "Growth"}
    value: "7.5"
    unit: "%"
    year: 2018
    status: estimate
    source: {title: "Nguồn một", url: "https://example.org/growth"}
  - id: revenue
    label: {vi: "Thu ngân sách", en: "Revenue"}
    value: "11,191"
    unit: "billion VND"
    year: 2018
    status: estimate
    source: {title: "Nguồn hai", url: null}
scenes:
  - id: S01
    theme: alpha
    order: 1
    title: {vi: "Cảnh một", en: "Scene one"}
    narration: {vi: "Lời bình một.", en: "Narration one."}
    planned_frames: 1000
    state: shooting
    shots:
      - id: S01-01
        kind: b-roll
        description: {vi: "Bến Ninh Kiều", en: "Ninh Kieu wharf"}
        location: "Bến Ninh Kiều"
        facts: [growth]
      - id: S01-02
        kind: graphics
        description: {vi: "Đồ họa", en: "Graphics"}
        facts: [revenue]
  - id: S02
    theme: beta
    order: 2
    title: {vi: "Cảnh hai", en: "Scene two"}
    narration: {vi: "Lời bình hai.", en: "Narration two."}
    planned_frames: 1500
    state: scripted
    shots:
      - id: S02-01
        kind: interview
        description: {vi: "Phỏng vấn", en: "Interview"}
        location: "Cầu Cần Thơ"
"""


def where(text: str, snippet: str, offset: int = 0) -> tuple[int, int]:
    """1-based line and column of `snippet` (plus `offset` characters) in `text`; it must be unique."""
    assert text.count(snippet) == 1, snippet
    index = text.index(snippet) + offset
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def write(tmp_path: Path, text: str, name: str = "film.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def spots(problems: list[Problem]) -> list[tuple[int, int, str]]:
    return [(p.line, p.col, p.field) for p in problems]


def broken(*replacements: tuple[str, str]) -> str:
    text = VALID
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def test_valid_film_and_bundled_film_have_no_problems(tmp_path: Path) -> None:
    assert check_film(write(tmp_path, VALID)) == []
    assert load_film(write(tmp_path, VALID)).scene("S02") is not None
    assert check_film(bundled_film_path()) == []
    assert check_film() == []  # None means the bundled film


def test_three_mistakes_give_three_lines_at_their_nodes(tmp_path: Path) -> None:
    text = broken(
        ("    planned_frames: 1000", "    planned_frames: long"),  # wrong type, scene 0
        ("    theme: beta", "    theme: gamma"),  # unknown theme, scene 1
        ("        facts: [revenue]", "        facts: [revenu]"),  # unknown fact, scene 0 shot 1
    )
    path = write(tmp_path, text)
    problems = check_film(path)
    assert spots(problems) == [
        (*where(text, "long"), "scenes[0].planned_frames"),
        (*where(text, "revenu]"), "scenes[0].shots[1].facts[0]"),
        (*where(text, "gamma"), "scenes[1].theme"),
    ]
    lines = [problem.format() for problem in problems]
    line, col = where(text, "gamma")
    assert lines[2] == (
        f"{path}:{line}:{col}: scenes[1].theme: scene S02: theme 'gamma' does not exist; expected one of alpha, beta"
    )
    assert "valid integer" in lines[0] and "'long'" in lines[0]
    assert "'revenu'" in lines[1]


def test_unknown_key_points_at_the_key(tmp_path: Path) -> None:
    text = broken(
        ("schema_version: 1\n", "schema_version: 1\nbogus_key: 1\n"),
        ("    state: scripted\n", "    state: scripted\n    colour: red\n"),
    )
    problems = check_film(write(tmp_path, text))
    assert spots(problems) == [
        (*where(text, "bogus_key"), "bogus_key"),
        (*where(text, "colour"), "scenes[1].colour"),
    ]
    assert "unknown key 'bogus_key'; expected one of: schema_version, film, milestones" in problems[0].message
    assert "expected one of: id, theme, order, title, narration, planned_frames, state, shots" in (problems[1].message)


def test_duplicate_mapping_key_points_at_the_second_key(tmp_path: Path) -> None:
    text = broken(('    order: 2\n    title: {vi: "Cảnh', '    order: 2\n    order: 3\n    title: {vi: "Cảnh'))
    problems = check_film(write(tmp_path, text))
    line, col = where(text, "order: 3")
    first_line, _ = where(text, "order: 2\n    order: 3")
    assert spots(problems) == [(line, col, "scenes[1].order")]
    assert f"duplicate key 'order' in this mapping (first at line {first_line} col 5)" in problems[0].message


def test_missing_field_points_at_the_mapping_that_lacks_it(tmp_path: Path) -> None:
    text = broken(('    narration: {vi: "Lời bình hai.", en: "Narration two."}\n', ""))
    problems = check_film(write(tmp_path, text))
    assert spots(problems) == [(*where(text, "id: S02\n"), "scenes[1].narration")]
    assert problems[0].message == "required field 'narration' is missing"


def test_wrong_types_are_reported_at_their_values(tmp_path: Path) -> None:
    text = broken(
        ("  fps: 25", "  fps: 25.0"),
        (
            '    year: 2018\n    status: estimate\n    source: {title: "Nguồn hai"',
            '    year: 2018\n    status: guess\n    source: {title: "Nguồn hai"',
        ),
        ('location: "Cầu Cần Thơ"', "location: no"),
        ("    due: 2019-05-31", "    due: 31/05/2019"),
    )
    problems = check_film(write(tmp_path, text))
    assert spots(problems) == [
        (*where(text, "25.0"), "film.fps"),
        (*where(text, "31/05/2019"), "milestones[0].due"),
        (*where(text, "guess"), "facts[1].status"),
        (*where(text, "location: no", len("location: ")), "scenes[1].shots[0].location"),
    ]
    assert "'target', 'estimate', 'preliminary' or 'actual'" in problems[2].message
    assert "got boolean false; quote it if it is meant as text" in problems[3].message


@pytest.mark.parametrize(
    ("old", "new", "snippet", "field", "what", "also"),
    [
        # renaming a definition also leaves its references dangling: both are reported
        (
            "  - id: beta",
            "  - id: alpha",
            "alpha\n    order: 2",
            "themes[1].id",
            "duplicate theme id 'alpha'",
            ["scenes[1].theme"],
        ),
        (
            "  - id: revenue",
            "  - id: growth",
            'growth\n    label: {vi: "Thu',
            "facts[1].id",
            "duplicate fact id 'growth'",
            ["scenes[0].shots[1].facts[0]"],
        ),
        (
            "  - id: S02\n",
            "  - id: S01\n",
            "S01\n    theme: beta",
            "scenes[1].id",
            "duplicate scene id 'S01'",
            ["scenes[1].shots[0].id"],
        ),
        (
            "      - id: S01-02",
            "      - id: S01-01",
            "S01-01\n        kind: graphics",
            "scenes[0].shots[1].id",
            "duplicate shot id 'S01-01'",
            [],
        ),
        ("    theme: beta", "    theme: gamma", "gamma", "scenes[1].theme", "theme 'gamma' does not exist", []),
        (
            "facts: [growth]",
            "facts: [growth, gdp]",
            "gdp]",
            "scenes[0].shots[0].facts[1]",
            "fact 'gdp' does not exist",
            [],
        ),
        (
            "      - id: S02-01",
            "      - id: S03-01",
            "S03-01",
            "scenes[1].shots[0].id",
            "shot S03-01 is listed under scene S02; expected an id S02-NN",
            [],
        ),
        (
            '    order: 2\n    title: {vi: "Cảnh',
            '    order: 1\n    title: {vi: "Cảnh',
            '1\n    title: {vi: "Cảnh hai',
            "scenes[1].order",
            "duplicate scene order 1",
            [],
        ),
    ],
)
def test_cross_reference_problems(
    tmp_path: Path, old: str, new: str, snippet: str, field: str, what: str, also: list[str]
) -> None:
    text = broken((old, new))
    problems = check_film(write(tmp_path, text))
    assert sorted(p.field for p in problems) == sorted([field, *also])
    (problem,) = (p for p in problems if p.field == field)
    assert (problem.line, problem.col) == where(text, snippet)
    assert what in problem.message


def test_duplicate_message_names_the_first_definition(tmp_path: Path) -> None:
    text = broken(("      - id: S01-02", "      - id: S01-01"))
    (problem,) = check_film(write(tmp_path, text))
    first_line, _ = where(text, "S01-01\n        kind: b-roll")
    assert problem.message.endswith(f"(first at scenes[0].shots[0].id, line {first_line})")


def test_runtime_over_target_reports_minutes_and_frames(tmp_path: Path) -> None:
    text = broken(("  target_runtime_frames: 3000", "  target_runtime_frames: 2400"))
    problems = check_film(write(tmp_path, text))
    assert spots(problems) == [(*where(text, "scenes:"), "scenes")]
    assert problems[0].message == (
        "planned duration 1.67 min (2,500 frames at 25 fps) is over film.target_runtime_frames "
        "1.60 min (2,400 frames) by 0.07 min (100 frames)"
    )


def test_cross_checks_still_run_when_the_schema_rejects_other_parts(tmp_path: Path) -> None:
    # scene S01 has no state and a bad planned_frames; the duplicate and dangling refs are still found
    text = broken(
        ("    state: shooting\n", ""),
        ("    planned_frames: 1000", "    planned_frames: -5"),
        ("  - id: revenue", "  - id: growth"),
        ("    theme: beta", "    theme: gamma"),
    )
    fields = [problem.field for problem in check_film(write(tmp_path, text))]
    assert fields == [
        "facts[1].id",
        "scenes[0].state",
        "scenes[0].planned_frames",
        "scenes[0].shots[1].facts[0]",  # 'revenue' went with the renamed fact
        "scenes[1].theme",
    ]


def test_yaml_syntax_error_uses_the_parser_mark(tmp_path: Path) -> None:
    text = broken(("        facts: [growth]", "        facts: [growth"))
    (problem,) = check_film(write(tmp_path, text))
    # the next line's "- id" still reads as a plain scalar inside the unclosed [...]; its ":" cannot
    assert (problem.line, problem.col, problem.field) == (*where(text, ": S01-02"), "yaml")
    line, col = where(text, "[growth")
    assert problem.message == (
        f"did not find expected ',' or ']' (while parsing a flow sequence, line {line} col {col})"
    )


def test_yaml_indentation_error(tmp_path: Path) -> None:
    text = broken(("    state: scripted\n", "    state: scripted\n   oops: 1\n"))
    (problem,) = check_film(write(tmp_path, text))
    assert (problem.line, problem.field) == (where(text, "oops")[0], "yaml")


def test_unreadable_date_in_yaml(tmp_path: Path) -> None:
    text = broken(("dated: 2019-05-06", "dated: 2019-13-06"))
    (problem,) = check_film(write(tmp_path, text))
    assert (problem.line, problem.col, problem.field) == (*where(text, "2019-13-06"), "yaml")
    assert "cannot read '2019-13-06' as date" in problem.message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    (problem,) = check_film(missing)
    assert problem.format() == f"{missing}:1:1: file: cannot read the storyboard file: No such file or directory"
    assert spots(check_film(tmp_path)) == [(1, 1, "file")]
    with pytest.raises(StoryboardUnreadable) as caught:
        load_film(missing)
    assert caught.value.problems == [problem]
    assert caught.value.exit_code == 2, "a storyboard that cannot be read is bad input"


def test_not_utf8_and_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.encode("utf-8").replace("Phim thử".encode(), b"Phim th\xfd"))
    line, col = where(VALID, "ử")
    assert spots(check_film(path)) == [(line, col, "file")]
    assert spots(check_film(write(tmp_path, "# nothing here\n", "empty.yaml"))) == [(1, 1, "(document)")]
    assert spots(check_film(write(tmp_path, "- 1\n", "list.yaml"))) == [(1, 1, "(document)")]


def test_load_film_raises_with_every_problem(tmp_path: Path) -> None:
    text = broken(("    theme: beta", "    theme: gamma"), ("  fps: 25", "  fps: fast"))
    path = write(tmp_path, text)
    with pytest.raises(StoryboardInvalid) as caught:
        load_film(path)
    assert not isinstance(caught.value, StoryboardUnreadable)
    assert isinstance(caught.value, DocfilmError) and caught.value.exit_code == 2
    assert [p.field for p in caught.value.problems] == ["film.fps", "scenes[1].theme"]
    assert str(path) in str(caught.value) and "scenes[1].theme" in str(caught.value)


def test_nfd_text_is_normalised_and_ids_still_match(tmp_path: Path) -> None:
    text = broken(
        ("  - id: alpha", "  - id: " + unicodedata.normalize("NFD", "cảnh-đẹp")),
        ("    theme: alpha", "    theme: cảnh-đẹp"),
    )
    text = text.replace("Phim thử", unicodedata.normalize("NFD", "Phim thử"))
    film = load_film(write(tmp_path, text))
    assert film.film.title.vi == "Phim thử"
    assert film.scenes_of("cảnh-đẹp")[0].id == "S01"


def test_acceptance_round_trip_mutation_gives_at_least_three_lines(tmp_path: Path) -> None:
    data = yaml.safe_load(bundled_film_path().read_text(encoding="utf-8"))
    data["bogus_key"] = 1
    data["scenes"].append(copy.deepcopy(data["scenes"][0]))
    data["scenes"][1]["theme"] = "no-such-theme"
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path = write(tmp_path, text, "mutated.yaml")
    lines = [problem.format() for problem in check_film(path)]
    pattern = re.compile(rf"^{re.escape(str(path))}:(\d+):(\d+): \S+: .+$")
    assert len(lines) >= 3 and all(pattern.match(line) for line in lines)
    assert f"{path}:{where(text, 'bogus_key')[0]}:1: bogus_key: unknown key" in "\n".join(lines)
    line, col = where(text, "no-such-theme")
    assert any(entry.startswith(f"{path}:{line}:{col}: scenes[1].theme: ") for entry in lines)
    assert any(": scenes[14].id: duplicate scene id 'S01'" in entry for entry in lines)


def test_check_does_not_import_prefect() -> None:
    """The check answers without Prefect (its speed is bench material, not a timed test: ~0.3 s with imports)."""
    code = (
        "import sys; from storyboard.loader import check_film; "
        "assert check_film() == []; "
        "assert 'prefect' not in sys.modules, 'prefect imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr



def test_storyboard_modules_import_each_other_without_a_circle() -> None:
    """Every import between storyboard's modules, TYPE_CHECKING ones included, forms no circle."""
    import ast

    folder = Path(bundled_film_path()).parent.parent
    imports: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module if node.level == 0 else f"storyboard.{node.module}"
                names.add(module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        imports[f"storyboard.{path.stem}"] = {n for n in names if n.startswith("storyboard.")}
    assert imports["storyboard.errors"] == {"storyboard.problems"}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or reaches(n, goal, seen | {n}) for n in imports.get(start, set()) - seen)

    circles = sorted(m for m in imports if reaches(m, m, set()))
    assert circles == [], f"import circle through {circles}"
