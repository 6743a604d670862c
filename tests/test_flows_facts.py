"""The facts flows on the session's real Prefect server: the check's and the import's artifacts."""

from __future__ import annotations

import inspect
import json
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import openpyxl
import pytest
import yaml
from cli_support import ROOT
from film_support import bundled_film_copy, edit_figure

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DOCFILM_HOME (the flows read their settings from the environment) and no DOCFILM_FILM."""
    monkeypatch.setenv("DOCFILM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DOCFILM_FILM", raising=False)
    return tmp_path / "home"


def _artifacts(flow_run_id: UUID) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))


def _one(flow_run_id: UUID, key: str) -> Any:
    found = [a for a in _artifacts(flow_run_id) if a.key == key]
    assert len(found) == 1, [a.key for a in _artifacts(flow_run_id)]
    return found[0]


def _table(artifact: Any) -> list[dict[str, Any]]:
    assert artifact.type == "table"
    data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    return list(data)


def test_check_flow_on_the_bundled_film_says_all_are_sourced(prefect_harness: None, home: Path) -> None:
    from flows.docfilm_flows import facts_check_flow

    state = facts_check_flow(as_of=date(2019, 5, 20), return_state=True)
    assert state.is_completed()
    result = state.result().to_json()
    assert result["figures"] >= 10 and result["not_sourced"] == 0
    assert result["counts"]["sourced"] == result["figures"]
    artifact = _one(state.state_details.flow_run_id, "facts-check")
    assert artifact.type == "markdown" and artifact.data == f"All {result['figures']} figures are sourced."


def test_check_flow_lists_an_edited_figure_and_still_completes(
    prefect_harness: None, home: Path, tmp_path: Path
) -> None:
    from flows.docfilm_flows import facts_check_flow

    film = bundled_film_copy(tmp_path / "film")
    line, col = edit_figure(film, "GRDP bình quân đầu người ước 80,48", "80,48", "82,15")

    state = facts_check_flow(film=str(film), return_state=True)
    assert state.is_completed()  # a figure that is not sourced is a warning for the flows, not a failure
    result = state.result().to_json()
    assert result["not_sourced"] == 1 and result["counts"]["contradicts"] == 1
    artifact = _one(state.state_details.flow_run_id, "facts-check")
    assert _table(artifact) == [{"at": f"{film}:{line}:{col}", "text": "82,15 triệu đồng", "scene": "S06",
                                 "result": "contradicts", "expected": "80.48"}]
    assert "1 of" in (artifact.description or "") and "1 contradicts" in (artifact.description or "")


def _office_table(path: Path, growth_2018: str) -> Path:
    """A small sheet in the Department's shape: a title, a merged two-row header with qualifiers, Vietnamese
    text numbers, a footnote."""
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "Biểu 02"
    ws.append(["CHỈ TIÊU CHỦ YẾU CỦA HUYỆN THỚI LAI"])
    ws.merge_cells("A1:F1")
    ws.append(["STT", "Chỉ tiêu", "Đơn vị tính", "Thực hiện", "Sơ bộ 2017", "Ước tính 2018"])
    ws.append([None, None, None, 2016, None, None])
    for cells in ("A2:A3", "B2:B3", "C2:C3", "E2:E3", "F2:F3"):
        ws.merge_cells(cells)
    ws.append([1, "Tốc độ tăng trưởng giá trị sản xuất", "%", "6,1", "6,4", growth_2018])
    ws.append([2, "Số hộ nghèo", "hộ", "1.234", "1.102", "987"])
    ws.append([None, "Ghi chú: số liệu năm 2018 là ước tính."])
    book.save(path)
    return path


def test_import_flow_reads_an_office_table_and_lists_what_changed(
    prefect_harness: None, home: Path, tmp_path: Path
) -> None:
    from flows.docfilm_flows import facts_import_flow

    film = bundled_film_copy(tmp_path / "film")
    first = facts_import_flow(str(_office_table(tmp_path / "v1.xlsx", "6,8")), source="Thới Lai 2018",
                              url="https://example.gov.vn/thoi-lai", received=date(2019, 4, 2), film=str(film),
                              return_state=True)
    report = first.result().to_json()
    assert report["imported"] == 6 and report["changed"] == [] and report["sheet"] == "Biểu 02"
    facts_file = Path(report["facts_file"])
    assert facts_file.parent == film.parent / "facts" and facts_file.is_file()
    assert f"facts/{facts_file.name}" in film.read_text(encoding="utf-8")  # the film includes it now
    rows = _table(_one(first.state_details.flow_run_id, "facts-import"))
    assert rows == [{"fact": "6 facts", "old": "", "new": "", "scenes": "", "result": "imported, none changed"}]

    newer = facts_import_flow(str(_office_table(tmp_path / "v2.xlsx", "7,0")), source="Thới Lai 2018",
                              film=str(film), return_state=True)
    report = newer.result().to_json()
    assert [(c["old"], c["new"]) for c in report["changed"]] == [("6.8", "7.0")]
    rows = _table(_one(newer.state_details.flow_run_id, "facts-import"))
    assert rows == [{"fact": report["changed"][0]["fact"], "old": "6.8", "new": "7.0", "scenes": "no scene",
                     "result": "changed"}]


def test_import_flow_fails_on_a_table_of_no_known_shape(prefect_harness: None, home: Path, tmp_path: Path) -> None:
    from flows.docfilm_flows import facts_import_flow

    film = bundled_film_copy(tmp_path / "film")
    before = film.read_text(encoding="utf-8")
    junk = tmp_path / "notes.csv"
    junk.write_text("a note\nanother note\n", encoding="utf-8")
    state = facts_import_flow(str(junk), film=str(film), return_state=True)
    assert state.is_failed()
    assert film.read_text(encoding="utf-8") == before


def test_prefect_yaml_deploys_the_facts_flows_with_their_parameters() -> None:
    import flows.docfilm_flows as flows

    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    by_name = {d["name"]: d for d in doc["deployments"]}
    for name, flow_name in (("facts-import", "facts_import_flow"), ("facts-check", "facts_check_flow")):
        deployment = by_name[name]
        assert deployment["entrypoint"] == f"flows/docfilm_flows.py:{flow_name}"
        assert deployment["work_pool"]["name"] == by_name["pipeline"]["work_pool"]["name"]
        accepted = set(inspect.signature(getattr(flows, flow_name).fn).parameters)
        assert set(deployment.get("parameters") or {}) <= accepted
    assert set(inspect.signature(flows.facts_import_flow.fn).parameters) >= {"file", "sheet", "source", "url",
                                                                           "received"}
    assert by_name["nightly-proxy-render"]["entrypoint"].endswith(":nightly_render_flow")
