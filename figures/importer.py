"""`facts import`: a statistics table → the film's facts file (`facts/<source>.yaml` beside the film).

The facts file is written whole to a temporary name and renamed, so a failed import leaves the old one.
Importing a newer version of a table reports each figure whose value changed and the scenes that quote it.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from figures.errors import FactsFileInvalid
from figures.tables import Table, TableFigure, read_table

logger = logging.getLogger(__name__)

FACTS_DIR = "facts"
_STATUS_SUFFIX = {"target": "plan", "estimate": "estimate", "preliminary": "preliminary", "actual": "actual"}


@dataclass(frozen=True)
class ChangedFact:
    """A figure whose value differs from the facts file's previous version."""

    fact: str
    old: str
    new: str
    scenes: list[str]


@dataclass(frozen=True)
class ImportResult:
    """What `facts import` read and wrote."""

    file: Path
    sha256: str
    sheet: str | None
    facts_file: Path
    imported: int
    changed: list[ChangedFact] = field(default_factory=list)
    include_added: bool = False

    def to_json(self) -> dict[str, object]:
        """The `facts import --json` object (and the import flow's result's)."""
        return {
            "file": str(self.file), "sha256": self.sha256, "sheet": self.sheet,
            "facts_file": str(self.facts_file), "imported": self.imported,
            "changed": [{"fact": c.fact, "old": c.old, "new": c.new, "scenes": c.scenes} for c in self.changed],
        }


def slug(text: str) -> str:
    """ASCII id words from Vietnamese or English text: `Tăng trưởng GRDP` → `tang-truong-grdp`."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def fact_records(table: Table, source: str, url: str | None, received: date | None,
                 taken: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The table's figures as facts-file records, with ids stable across versions of the table.

    `taken` holds the ids of the film's other facts (its own and other facts files'): ids stay unique film-wide.
    """
    records: list[dict[str, Any]] = []
    seen: set[str] = set(taken)
    for fig in table.figures:
        base = f"{slug(fig.label_en or fig.label_vi)[:60].rstrip('-')}-{fig.year}"
        fact_id = base if fig.status != "target" else f"{base}-{_STATUS_SUFFIX[fig.status]}"
        if fact_id in seen:
            fact_id = f"{base}-{_STATUS_SUFFIX[fig.status]}"
        n = 2
        while fact_id in seen:
            fact_id, n = f"{base}-{n}", n + 1
        seen.add(fact_id)
        records.append(_record(fact_id, fig, table, source, url, received))
    return records


def _record(fact_id: str, fig: TableFigure, table: Table, source: str, url: str | None,
            received: date | None) -> dict[str, Any]:
    row_source, row_url = fig.source, None
    if row_source and re.match(r"https?://", row_source):
        row_source, row_url = None, row_source
    return {
        "id": fact_id,
        "label": {"vi": fig.label_vi, "en": fig.label_en or fig.label_vi},
        "value": fig.value,
        "unit": fig.unit,
        "year": fig.year,
        "status": fig.status,
        "source": {"title": row_source or source, "url": row_url or url},
        "as_of": fig.as_of,
        "provenance": {
            "file": table.file.name, "sha256": table.sha256, "sheet": table.sheet, "cell": fig.cell,
            "row": fig.row_label, "column": fig.column_label, "received": received,
        },
    }


def _dump(records: list[dict[str, Any]], table: Table, source: str) -> str:
    head = (f"# Facts imported by `docfilm facts import` from {table.file.name}"
            f"{f' (sheet {table.sheet})' if table.sheet else ''}, SHA-256 {table.sha256}.\n"
            f"# Source: {source}. Re-import the table to change these; do not edit by hand.\n")
    body = yaml.safe_dump({"schema_version": 1, "facts": records}, allow_unicode=True, sort_keys=False, width=110)
    return head + body


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _old_values(facts_file: Path) -> dict[str, str]:
    if not facts_file.exists():
        return {}
    try:
        data = yaml.safe_load(facts_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FactsFileInvalid(f"{facts_file}: cannot read the previous facts file: {exc}") from exc
    facts = data.get("facts") if isinstance(data, dict) else None
    return {str(f["id"]): str(f.get("value")) for f in facts or [] if isinstance(f, dict) and "id" in f}


def taken_ids(film: Path, facts_file: Path) -> set[str]:
    """Fact ids the film has outside `facts_file`: its own facts and those of its other included files."""
    try:
        data = yaml.safe_load(film.read_text(encoding="utf-8-sig"))
    except (OSError, yaml.YAMLError):
        return set()
    if not isinstance(data, dict):
        return set()
    ids = {str(f["id"]) for f in data.get("facts") or [] if isinstance(f, dict) and "id" in f}
    for entry in data.get("include") or []:
        other = film.parent / str(entry)
        if other.resolve() == facts_file.resolve():
            continue
        try:
            included = yaml.safe_load(other.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(included, dict):
            ids |= {str(f["id"]) for f in included.get("facts") or [] if isinstance(f, dict) and "id" in f}
    return ids


def add_include(film: Path, entry: str) -> bool:
    """Add `entry` to the film's top-level `include` list, keeping the rest of the file as written; False if there."""
    text = film.read_text(encoding="utf-8-sig")
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise FactsFileInvalid(f"{film}: cannot add the include, the film is not valid YAML: {exc}") from exc
    if not isinstance(root, MappingNode):
        raise FactsFileInvalid(f"{film}: cannot add the include, the film is not a mapping")
    lines = text.splitlines(keepends=True)
    for key, value in root.value:
        if isinstance(key, ScalarNode) and key.value == "include":
            if isinstance(value, SequenceNode):
                if any(isinstance(item, ScalarNode) and item.value == entry for item in value.value):
                    return False
                if value.value and not value.flow_style:
                    first = value.value[0].start_mark
                    indent = lines[first.line][: first.column]
                    at = value.value[-1].end_mark.line + (1 if value.value[-1].end_mark.column else 0)
                    lines.insert(at, f"{indent}{entry}\n")
                    break
            # An empty or flow-style list (or null): rewrite the value in block style.
            items = [i.value for i in value.value if isinstance(i, ScalarNode)] if isinstance(
                value, SequenceNode) else []
            block = "".join(f"  - {item}\n" for item in [*items, entry])
            start, end = value.start_mark.index, value.end_mark.index
            new_text = text[:start].rstrip(" ") + "\n" + block + text[end:].lstrip("\n")
            _write_atomic(film, new_text)
            return True
    else:
        block = f"include:\n  - {entry}\n"
        facts_key = next((k for k, _ in root.value if isinstance(k, ScalarNode) and k.value == "facts"), None)
        if facts_key is not None:
            lines.insert(facts_key.start_mark.line, block)
        else:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines.append(block)
    _write_atomic(film, "".join(lines))
    return True


def import_table(path: Path, film: Path, *, sheet: str | None = None, source: str | None = None,
                 url: str | None = None, received: date | None = None,
                 scenes_quoting: dict[str, list[str]] | None = None) -> ImportResult:
    """Read a table and write its facts beside the film; add the include to the film when it is missing.

    `scenes_quoting` maps a fact id to the scenes that quote it (from the check of the film before the import),
    for the report of changed figures. Nothing is written when the table cannot be read.
    """
    table = read_table(path, sheet)
    title = source or path.stem
    name = slug(source) if source else slug(path.stem)
    facts_file = film.parent / FACTS_DIR / f"{name or 'facts'}.yaml"
    records = fact_records(table, title, url, received, taken_ids(film, facts_file))
    old = _old_values(facts_file)
    quoting = scenes_quoting or {}
    changed = [ChangedFact(r["id"], old[r["id"]], r["value"], sorted(quoting.get(r["id"], [])))
               for r in records if r["id"] in old and old[r["id"]] != r["value"]]
    _write_atomic(facts_file, _dump(records, table, title))
    added = add_include(film, f"{FACTS_DIR}/{facts_file.name}")
    logger.info("imported %d facts from %s into %s", len(records), path, facts_file)
    return ImportResult(path, table.sha256, table.sheet, facts_file, len(records), changed, added)
