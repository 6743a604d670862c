"""Load and check storyboard YAML files, reporting every problem with the line and column of its node.

`check_film` reads the file once into a YAML node tree (which keeps marks), constructs plain data from
it, validates that against the schema and runs the cross-reference checks on the plain data, so that
mistakes in different places are all reported together. Each problem is mapped back to the node its
location names (the key itself for unknown or duplicate keys).
"""

from __future__ import annotations

import logging
import os
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from storyboard.errors import StoryboardError, StoryboardInvalid, StoryboardUnreadable
from storyboard.integrity import Loc, format_loc, integrity_issues
from storyboard.models import SKIP_INTEGRITY, Fact, FactsFile, Film
from storyboard.problems import Problem

__all__ = [
    "Problem",
    "StoryboardError",
    "StoryboardInvalid",
    "StoryboardUnreadable",
    "bundled_film_path",
    "check_film",
    "compose",
    "load_film",
    "node_at",
]

logger = logging.getLogger(__name__)

BUNDLED_FILM = "can-tho-xiv.yaml"
DOCUMENT_FIELD = "(document)"
FILE_FIELD = "file"
YAML_FIELD = "yaml"

_YamlLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def bundled_film_path() -> Path:
    """Path of the film shipped with docfilm (the Can Tho 14th Congress documentary)."""
    return Path(__file__).resolve().parent / "films" / BUNDLED_FILM


def check_film(path: str | os.PathLike[str] | None = None) -> list[Problem]:
    """Every problem of a storyboard file (the bundled film when `path` is None), in file order."""
    problems, _ = _analyse(Path(path) if path is not None else bundled_film_path())
    return problems


def load_film(path: str | os.PathLike[str] | None = None) -> Film:
    """The validated film of a storyboard file (the bundled one when `path` is None).

    Raises StoryboardUnreadable when the file cannot be read, StoryboardInvalid (with `.problems`) when
    it has any problem.
    """
    file = Path(path) if path is not None else bundled_film_path()
    problems, film = _analyse(file)
    if problems or film is None:
        if problems and all(problem.field == FILE_FIELD for problem in problems):
            raise StoryboardUnreadable(str(file), problems)
        raise StoryboardInvalid(str(file), problems)
    return film


def _analyse(path: Path) -> tuple[list[Problem], Film | None]:
    file = str(path)
    problems, root, data = _read_document(path)
    if root is None:
        return problems, None
    if problems and data is None:
        return problems, None

    own_facts = data.get("facts") if isinstance(data, dict) else None
    included = _included_facts(path, root, data, problems)

    film: Film | None = None
    try:
        film = Film.model_validate(data, context={SKIP_INTEGRITY: True})
    except ValidationError as exc:
        problems += (_schema_problem(file, root, error) for error in exc.errors(include_url=False))

    # Cross-references see every fact: the film's own, then each included file's, in include order.
    own_count = len(own_facts) if isinstance(own_facts, list) else 0
    merged = data
    if included and isinstance(data, dict):
        merged = {**data, "facts": [*(own_facts if isinstance(own_facts, list) else []),
                                     *(raw for inc in included for raw in inc.raw_facts)]}

    def place(loc: Loc) -> tuple[str, Node, Loc]:
        if len(loc) >= 2 and loc[0] == "facts" and isinstance(loc[1], int) and loc[1] >= own_count:
            index = loc[1] - own_count
            for inc in included:
                if index < len(inc.raw_facts):
                    return inc.file, inc.root, ("facts", index, *loc[2:])
                index -= len(inc.raw_facts)
        return file, root, loc

    for issue in integrity_issues(merged):
        where, where_root, loc = place(issue.loc)
        node = _locate(where_root, loc, at_key=issue.at_key)
        message = issue.message
        if issue.first is not None:
            first_file, first_root, first_loc = place(issue.first)
            first = _locate(first_root, first_loc)
            in_file = "" if first_file == where else f" of {first_file}"
            message += f" (first at {format_loc(issue.first)}, line {first.start_mark.line + 1}{in_file})"
        problems.append(_at(where, node, format_loc(loc), message))

    problems.sort(key=lambda problem: (problem.file != file, problem.file, problem.line, problem.col))
    logger.debug("checked %s: %d problem(s)", file, len(problems))
    if problems or film is None:
        return problems, None
    if included:
        film = film.model_copy(update={"facts": [*film.facts, *(f for inc in included for f in inc.facts)]})
    return problems, film


def _read_document(path: Path) -> tuple[list[Problem], Node | None, Any]:
    """Problems, node tree and plain data of one YAML file (tree None when it cannot be read or is empty)."""
    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return [Problem(file, 1, 1, FILE_FIELD, f"cannot read the storyboard file: {reason}")], None, None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [_decode_problem(file, raw, exc)], None, None

    try:
        root = yaml.compose(text, Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        return [_yaml_problem(file, text, exc)], None, None
    if root is None:
        expected = f"the file is empty; expected a mapping with {', '.join(Film.model_fields)}"
        return [Problem(file, 1, 1, DOCUMENT_FIELD, expected)], None, None

    problems = list(_duplicate_keys(file, root))
    try:
        data = _Constructor().construct_document(root)
    except yaml.YAMLError as exc:
        return sorted([*problems, _yaml_problem(file, text, exc)], key=lambda p: (p.line, p.col)), root, None
    return problems, root, data


@dataclass
class _Included:
    file: str
    root: Node
    raw_facts: list[Any]
    facts: list[Fact]


def _included_facts(path: Path, root: Node, data: Any, problems: list[Problem]) -> list[_Included]:
    """The facts files a film includes, each validated on its own; their problems join `problems`."""
    includes = data.get("include") if isinstance(data, dict) else None
    if not isinstance(includes, list):
        return []
    found: list[_Included] = []
    for index, entry in enumerate(includes):
        if not isinstance(entry, str) or not entry:
            continue  # the schema reports it
        target = path.parent / entry
        inc_problems, inc_root, inc_data = _read_document(target)
        if inc_root is None or inc_data is None:
            node = _locate(root, ("include", index))
            for problem in inc_problems:
                if problem.field == FILE_FIELD:
                    problems.append(_at(str(path), node, f"include[{index}]",
                                        f"cannot read the included facts file {target}: "
                                        f"{problem.message.rsplit(': ', 1)[-1]}"))
                else:
                    problems.append(problem)
            continue
        problems += inc_problems
        try:
            facts_file = FactsFile.model_validate(inc_data)
        except ValidationError as exc:
            problems += (_schema_problem(str(target), inc_root, error) for error in exc.errors(include_url=False))
            facts_file = None
        raw = inc_data.get("facts") if isinstance(inc_data, dict) else None
        found.append(_Included(str(target), inc_root, raw if isinstance(raw, list) else [],
                               list(facts_file.facts) if facts_file is not None else []))
    return found


def node_at(root: Node, loc: Loc) -> Node:
    """The YAML node at a location of a composed document (or its deepest existing ancestor)."""
    return _locate(root, loc)


def compose(path: str | os.PathLike[str]) -> Node | None:
    """The node tree of a YAML file, marks kept (for locating text within it); None when it is empty."""
    return yaml.compose(Path(path).read_text(encoding="utf-8-sig"), Loader=_YamlLoader)


class _Constructor(SafeConstructor):
    """SafeConstructor that reports a scalar it cannot convert (e.g. date 2019-13-45) at its node."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:
            kind = {"timestamp": "date"}.get(node.tag.rsplit(":", 1)[-1], node.tag.rsplit(":", 1)[-1])
            message = f"cannot read {node.value!r} as {kind}: {exc}"
            raise ConstructorError(None, None, message, node.start_mark) from exc


def _at(file: str, node: Node, field: str, message: str) -> Problem:
    mark = node.start_mark
    return Problem(file, mark.line + 1, mark.column + 1, field or DOCUMENT_FIELD, message)


def _decode_problem(file: str, raw: bytes, exc: UnicodeDecodeError) -> Problem:
    line_start = raw.rfind(b"\n", 0, exc.start) + 1
    line = raw.count(b"\n", 0, exc.start) + 1
    col = len(raw[line_start : exc.start].decode("utf-8", errors="replace")) + 1
    bad = raw[exc.start : exc.end].hex(" ")
    return Problem(file, line, col, FILE_FIELD, f"not UTF-8 text: cannot decode byte(s) {bad}")


def _yaml_problem(file: str, text: str, exc: yaml.YAMLError) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark is not None and exc.problem_mark is not None:
            ctx = exc.context_mark
            message += f" ({exc.context}, line {ctx.line + 1} col {ctx.column + 1})"
        if mark is not None:
            return Problem(file, mark.line + 1, mark.column + 1, YAML_FIELD, message)
        return Problem(file, 1, 1, YAML_FIELD, message)
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        # ReaderError (e.g. a control character) carries a character offset instead of a mark.
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
        return Problem(file, line, col, YAML_FIELD, str(exc).splitlines()[0])
    return Problem(file, 1, 1, YAML_FIELD, str(exc))


def _duplicate_keys(file: str, root: Node) -> Iterator[Problem]:
    """Keys given twice in one mapping (YAML loaders silently keep the last one)."""
    seen_nodes: set[int] = set()
    stack: list[tuple[Node, Loc]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen_nodes:  # aliases may share or even cycle
            continue
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[str, Node] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else None
                if name is None or name == "<<":
                    continue
                if name in first:
                    mark = first[name].start_mark
                    yield _at(
                        file,
                        key,
                        format_loc((*loc, name)),
                        f"duplicate key {name!r} in this mapping (first at line {mark.line + 1} "
                        f"col {mark.column + 1}); give each key once",
                    )
                else:
                    first[name] = key
                stack.append((value, (*loc, name)))
        elif isinstance(node, SequenceNode):
            stack.extend((item, (*loc, i)) for i, item in enumerate(node.value))


def _locate(root: Node, loc: Loc, *, at_key: bool = False) -> Node:
    """The node at a location, or its deepest existing ancestor (e.g. the mapping missing a key)."""
    node = root
    key_node: Node | None = None
    for part in loc:
        found: tuple[Node | None, Node] | None = None
        if isinstance(node, MappingNode):
            for key, value in node.value:  # the last duplicate wins, as in the constructed data
                if isinstance(key, ScalarNode) and key.value == str(part):
                    found = (key, value)
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            found = (None, node.value[part])
        if found is None:
            return node
        key_node, node = found
    return key_node if at_key and key_node is not None else node


def _schema_problem(file: str, root: Node, error: ErrorDetails) -> Problem:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    field = format_loc(loc)
    if kind == "missing":
        return _at(file, _locate(root, loc), field, f"required field {loc[-1]!r} is missing")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        expected = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return _at(file, _locate(root, loc, at_key=True), field, f"unknown key {loc[-1]!r}{expected}")
    given = error.get("input")
    if kind in ("model_type", "dict_type"):
        return _at(file, _locate(root, loc), field, f"expected a mapping of keys, got {_describe(given)}")
    if kind == "list_type":
        return _at(file, _locate(root, loc), field, f"expected a list, got {_describe(given)}")
    message = error["msg"]
    message = message[:1].lower() + message[1:]
    if kind == "string_type" and isinstance(given, bool | int | float | date):
        message += f", got {_describe(given)}; quote it if it is meant as text"
    else:
        message += f", got {_describe(given)}"
    return _at(file, _locate(root, loc), field, message)


def _describe(value: Any) -> str:
    if value is None:
        return "an empty value (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "…")
    if isinstance(value, date):
        return f"{type(value).__name__} {value.isoformat()}"
    return f"{type(value).__name__} {value!r}"


def _allowed_keys(loc: Loc) -> list[str]:
    """Field names of the model found at a location, for 'expected one of' hints."""
    model: Any = Film
    for part in loc:
        model = _unwrap(model)
        if isinstance(part, int):
            args = typing.get_args(model)
            if typing.get_origin(model) is not list or not args:
                return []
            model = args[0]
        elif isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            model = model.model_fields[part].annotation
        else:
            return []
    model = _unwrap(model)
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
