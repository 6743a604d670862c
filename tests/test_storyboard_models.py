"""The storyboard schema and the content of the bundled film."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from core.errors import DocfilmError
from storyboard.errors import StoryboardError, UnknownReference
from storyboard.loader import bundled_film_path, load_film
from storyboard.models import SKIP_INTEGRITY, Film, Scene, SceneState, Shot, Source, Text

MAX_FRAMES = 28 * 60 * 25  # National TV Festival cap for one documentary, at 25 fps

THEMES = {
    "party-building": ("Xây dựng Đảng và hệ thống chính trị", "Party building and political-system building"),
    "socio-economic": ("Phát triển kinh tế - xã hội", "Socio-economic development"),
    "defence-security": ("Bảo đảm quốc phòng - an ninh", "National defence and security"),
}

# Every figure of shared/domain/CONTEXT.md's table as (value, unit, year, status); rows holding several
# quantities are split into one fact each.
# The figures of ../shared/domain/CONTEXT.md, imported from tables/can-tho-figures-2019.csv (issue 11).
CONTEXT_FIGURES = {
    ("7.5–8", "%/năm", 2015, "target"),
    ("7.53", "%/năm", 2020, "estimate"),
    ("13", "chỉ tiêu", 2020, "estimate"),
    ("97.2", "triệu đồng", 2020, "estimate"),
    ("7.5", "%", 2018, "estimate"),
    ("80.48", "triệu đồng", 2018, "estimate"),
    ("3490", "USD", 2018, "estimate"),
    ("7.84", "%", 2019, "estimate"),
    ("11191", "tỷ đồng", 2018, "estimate"),
    ("101", "% kế hoạch", 2018, "estimate"),
    ("1847", "triệu USD", 2018, "estimate"),
    ("1790", "triệu USD", 2018, "target"),
    ("5.12", "%", 2015, "actual"),
    ("3.21", "%", 2017, "actual"),
    ("1.55", "%", 2018, "estimate"),
    ("36", "xã", 2019, "actual"),
    ("4", "huyện", 2019, "actual"),
    ("280080", "tỷ đồng", 2020, "estimate"),
    ("15.9", "%/năm", 2020, "estimate"),
    ("65", "%", 2015, "actual"),
    ("75", "%", 2020, "estimate"),
    ("2.6", "km", 2020, "actual"),
    ("191", "tỷ đồng", 2020, "actual"),
    ("42000", "đảng viên", 2015, "actual"),
    ("52000", "đảng viên", 2020, "estimate"),
    ("1614", "đảng viên", 2017, "actual"),
    ("1700", "thanh niên", 2017, "target"),
    ("160", "vụ", 2017, "actual"),
    ("14", "vụ", 2017, "actual"),
    ("94.4", "%", 2017, "actual"),
}


@pytest.fixture(scope="module")
def film() -> Film:
    return load_film(bundled_film_path())


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


# --- the bundled film ---------------------------------------------------------------------------------


def test_bundled_film_identity_and_commission(film: Film) -> None:
    assert film.schema_version == 1
    assert film.film.id == "can-tho-xiv"
    assert film.film.fps == 25
    assert film.film.target_runtime_frames == MAX_FRAMES
    assert film.film.term == "2020–2025"
    assert film.film.commission.reference == "1293-CV/TU"
    assert film.film.commission.dated == date(2019, 5, 6)
    assert film.film.commission.issuer.vi == "Ban Thường vụ Thành ủy Cần Thơ"
    assert film.film.producer.vi == "Đài Phát thanh và Truyền hình thành phố Cần Thơ"


def test_bundled_film_milestones(film: Film) -> None:
    milestones = {milestone.id: milestone for milestone in film.milestones}
    assert milestones["review-standing-board"].due == date(2019, 5, 31)
    congress = milestones["congress"]
    assert congress.due is None
    assert congress.note is not None  # says why there is no date


def test_bundled_film_has_the_three_themes_in_order(film: Film) -> None:
    assert [(t.id, t.title.vi, t.title.en) for t in sorted(film.themes, key=lambda t: t.order)] == [
        (theme_id, vi, en) for theme_id, (vi, en) in THEMES.items()
    ]


def test_bundled_film_scenes_per_theme_and_numbering(film: Film) -> None:
    for theme_id in THEMES:
        assert len(film.scenes_of(theme_id)) >= 4, theme_id
    in_order = sorted(film.scenes, key=lambda scene: scene.order)
    assert in_order == film.scenes  # listed in film order
    assert [scene.id for scene in in_order] == [f"S{n:02d}" for n in range(1, len(in_order) + 1)]
    assert [scene.order for scene in in_order] == list(range(1, len(in_order) + 1))
    # themes follow each other as blocks, in theme order
    theme_order = {theme.id: theme.order for theme in film.themes}
    assert [theme_order[scene.theme] for scene in in_order] == sorted(theme_order[s.theme] for s in in_order)


def test_bundled_film_shots(film: Film) -> None:
    kinds: Counter[str] = Counter()
    for scene in film.scenes:
        assert 2 <= len(scene.shots) <= 3, scene.id
        for number, shot in enumerate(scene.shots, start=1):
            assert shot.id == f"{scene.id}-{number:02d}"
            kinds[shot.kind] += 1
    assert set(kinds) == {"interview", "b-roll", "archive", "graphics", "aerial"}
    locations = {shot.location for scene in film.scenes for shot in scene.shots if shot.location}
    for place in ("Bến Ninh Kiều", "Cầu Cần Thơ", "Chợ nổi Cái Răng", "Đường Trần Hoàng Na", "Phong Điền"):
        assert any(place in location for location in locations), place


def test_bundled_film_runtime(film: Film) -> None:
    total = film.planned_frames_total
    assert total == sum(scene.planned_frames for scene in film.scenes)
    assert total <= MAX_FRAMES
    assert total >= 24 * 60 * 25  # about 26 minutes are planned, within the expected 20–30


def test_bundled_film_states_fit_mid_may_2019(film: Film) -> None:
    states = Counter(scene.state for scene in film.scenes)
    assert not states[SceneState.review] and not states[SceneState.approved]
    assert states[SceneState.shot] + states[SceneState.editing] >= 2
    assert states[SceneState.scripted] + states[SceneState.shooting] >= 4
    assert film.scenes[0].state in (SceneState.shooting, SceneState.shot, SceneState.editing)


def test_bundled_film_facts_are_the_context_figures(film: Film) -> None:
    assert {(f.value, f.unit, f.year, f.status) for f in film.facts} == CONTEXT_FIGURES
    admitted = film.fact("new-party-members-admitted-2017")
    assert admitted.as_of == date(2017, 5, 28)


def test_bundled_film_every_fact_has_a_source(film: Film) -> None:
    without_url = []
    for fact in film.facts:
        assert fact.source.title.strip(), fact.id
        if fact.source.url is None:
            without_url.append(fact.id)
        else:
            assert fact.source.url.startswith("https://"), fact.id
            assert "…" not in fact.source.url and fact.source.url != "same"
    assert without_url == []


def test_bundled_film_shots_reference_every_fact(film: Film) -> None:
    referenced = {fact_id for scene in film.scenes for shot in scene.shots for fact_id in shot.facts}
    assert referenced == {fact.id for fact in film.facts}


def test_narration_does_not_state_figures_unknown_in_may_2019(film: Film) -> None:
    from figures.check import check_film_figures, known_on

    report = check_film_figures(bundled_film_path(), film, as_of=date(2019, 5, 31))
    assert report.figures and report.counts["sourced"] == len(report.figures)
    by_id = {fact.id: fact for fact in film.facts}
    later = [f.fact for f in report.figures if f.fact and not known_on(by_id[f.fact], date(2019, 5, 31))]
    assert later == []
    # the check does see figures of 2019 and 2020 as unknown in May 2019
    assert not known_on(film.fact("grdp-growth-2019"), date(2019, 5, 31))
    assert not known_on(film.fact("total-social-investment-2020"), date(2019, 5, 31))


def test_bundled_film_text_is_nfc_and_bilingual(film: Film) -> None:
    raw = bundled_film_path().read_text(encoding="utf-8")
    assert unicodedata.is_normalized("NFC", raw)
    for text in _strings(film.model_dump(mode="json")):
        assert unicodedata.is_normalized("NFC", text)
    for scene in film.scenes:
        assert scene.title.vi != scene.title.en
        assert 1 <= len(re.findall(r"[.!?](\s|$)", scene.narration.vi)) <= 3, scene.id
        assert 1 <= len(re.findall(r"[.!?](\s|$)", scene.narration.en)) <= 3, scene.id
    # real diacritics, not ASCII transliteration
    assert "ệ" in film.theme("party-building").title.vi


def test_bundled_film_yaml_survives_a_safe_dump_round_trip(film: Film) -> None:
    import yaml

    data = yaml.safe_load(bundled_film_path().read_text(encoding="utf-8"))
    again = yaml.safe_load(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    # The facts come from the included facts file, which the loader (not the model) reads.
    assert Film.model_validate(again, context={SKIP_INTEGRITY: True}) == film.model_copy(update={"facts": []})


# --- helpers --------------------------------------------------------------------------------------------


def test_lookup_helpers(film: Film) -> None:
    assert film.theme("socio-economic").order == 2
    assert [scene.order for scene in film.scenes_of("socio-economic")] == sorted(
        scene.order for scene in film.scenes if scene.theme == "socio-economic"
    )
    assert film.fact("grdp-growth-2018").value == "7.5"
    assert film.scene("S07") is not None and film.scene("S99") is None
    shot = film.shot("S07-02")
    assert shot is not None and "tran-hoang-na-road-length-2020" in shot.facts
    assert film.shot("S07-09") is None


@pytest.mark.parametrize("call", ["theme", "fact", "scenes_of"])
def test_unknown_ids_raise_a_named_error(film: Film, call: str) -> None:
    with pytest.raises(UnknownReference) as caught:
        getattr(film, call)("nope")
    assert isinstance(caught.value, StoryboardError) and isinstance(caught.value, KeyError)
    assert isinstance(caught.value, DocfilmError) and caught.value.exit_code == 2
    assert "can-tho-xiv" in str(caught.value) and "'nope'" in str(caught.value)


# --- the schema -----------------------------------------------------------------------------------------


def _scene(**changes: Any) -> dict[str, Any]:
    scene: dict[str, Any] = {
        "id": "S01",
        "theme": "party-building",
        "order": 1,
        "title": {"vi": "Cảnh", "en": "Scene"},
        "narration": {"vi": "Lời bình.", "en": "Narration."},
        "planned_frames": 100,
        "state": "scripted",
        "shots": [{"id": "S01-01", "kind": "b-roll", "description": {"vi": "Cảnh quay", "en": "Shot"}}],
    }
    scene.update(changes)
    return scene


def test_text_is_normalised_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Cần Thơ")
    assert decomposed != "Cần Thơ"
    assert Text(vi=decomposed, en="Can Tho").vi == "Cần Thơ"
    assert Scene.model_validate(_scene(theme=unicodedata.normalize("NFD", "kinh-tế"))).theme == "kinh-tế"


@pytest.mark.parametrize(
    ("changes", "error_type"),
    [
        ({"planned_frames": "100"}, "int_type"),
        ({"planned_frames": True}, "int_type"),
        ({"planned_frames": 0}, "greater_than"),
        ({"order": 1.0}, "int_type"),
        ({"state": "finished"}, "enum"),
        ({"id": "S1"}, "string_pattern_mismatch"),
        ({"theme": 3}, "string_type"),
        ({"extra": 1}, "extra_forbidden"),
        ({"shots": [{"id": "S01-01", "kind": "drone", "description": {"vi": "a", "en": "b"}}]}, "literal_error"),
        (
            {"shots": [{"id": "S01-1", "kind": "aerial", "description": {"vi": "a", "en": "b"}}]},
            "string_pattern_mismatch",
        ),
        ({"title": {"vi": "", "en": "Scene"}}, "string_too_short"),
    ],
)
def test_scene_schema_is_strict(changes: dict[str, Any], error_type: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Scene.model_validate(_scene(**changes))
    assert [error["type"] for error in caught.value.errors()] == [error_type]


def test_scene_state_accepts_yaml_strings_and_models_are_frozen() -> None:
    scene = Scene.model_validate(_scene(state="editing"))
    assert scene.state is SceneState.editing
    with pytest.raises(ValidationError):
        scene.planned_frames = 5


def test_dates_accept_yaml_dates_and_iso_strings_only(film: Film) -> None:
    data = film.model_dump(mode="python")
    data["milestones"][0]["due"] = "2019-05-30"
    assert Film.model_validate(data).milestones[0].due == date(2019, 5, 30)
    for bad in ("30/05/2019", 1559174400):
        data["milestones"][0]["due"] = bad
        with pytest.raises(ValidationError) as caught:
            Film.model_validate(data)
        assert caught.value.errors()[0]["loc"] == ("milestones", 0, "due")


def test_source_url_must_be_http() -> None:
    assert Source(title="Báo Cần Thơ", url="https://baocantho.com.vn/").url == "https://baocantho.com.vn/"
    with pytest.raises(ValidationError):
        Source(title="Báo Cần Thơ", url="baocantho.com.vn/a48491.html")


def test_shot_facts_default_empty() -> None:
    assert Shot.model_validate({"id": "S02-01", "kind": "archive", "description": {"vi": "a", "en": "b"}}).facts == []


def test_film_model_rejects_dangling_references_unless_told_to_skip(film: Film) -> None:
    data = film.model_dump(mode="python")
    data["scenes"][1]["theme"] = "no-such-theme"
    data["scenes"][2]["shots"][0]["facts"] = ["no-such-fact"]
    with pytest.raises(ValidationError) as caught:
        Film.model_validate(data)
    message = str(caught.value)
    assert "scenes[1].theme" in message and "no-such-theme" in message
    assert "scenes[2].shots[0].facts[0]" in message and "no-such-fact" in message
    assert Film.model_validate(data, context={SKIP_INTEGRITY: True}).scenes[1].theme == "no-such-theme"


def test_film_model_rejects_runtime_over_target(film: Film) -> None:
    data = film.model_dump(mode="python")
    data["film"]["target_runtime_frames"] = film.planned_frames_total - 1
    with pytest.raises(ValidationError, match="over film.target_runtime_frames"):
        Film.model_validate(data)
    data["film"]["target_runtime_frames"] = film.planned_frames_total
    assert Film.model_validate(data).planned_frames_total == film.planned_frames_total
