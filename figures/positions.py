"""Line and column, in the storyboard file, of a character of a text value (plain, quoted or folded block)."""

from __future__ import annotations

import bisect
from pathlib import Path

from yaml.nodes import Node, ScalarNode

from storyboard.loader import compose, node_at


class TextLocator:
    """Maps (location of a text, offset in its value) to the 1-based line and column in the YAML file."""

    def __init__(self, path: Path) -> None:
        self.source = path.read_text(encoding="utf-8-sig")
        self.root = compose(path)
        self._line_starts = [0]
        for i, ch in enumerate(self.source):
            if ch == "\n":
                self._line_starts.append(i + 1)
        self._cache: dict[tuple[str | int, ...], list[int]] = {}

    def locate(self, loc: tuple[str | int, ...], value: str, offset: int) -> tuple[int, int]:
        """Line and column of character `offset` of the text at `loc` (the node's start if it cannot be aligned)."""
        if self.root is None:
            return 1, 1
        positions = self._cache.get(loc)
        if positions is None:
            node = node_at(self.root, loc)
            positions = self._align(node, value)
            self._cache[loc] = positions
        index = positions[offset] if 0 <= offset < len(positions) else positions[0] if positions else 0
        line = bisect.bisect_right(self._line_starts, index) - 1
        return line + 1, index - self._line_starts[line] + 1

    def _align(self, node: Node, value: str) -> list[int]:
        """Source index of each character of the value, following YAML's folding of lines and indentation."""
        src, i = self.source, node.start_mark.index
        end = node.end_mark.index
        if isinstance(node, ScalarNode) and node.style in (">", "|"):
            i = src.index("\n", i) + 1
        elif isinstance(node, ScalarNode) and node.style in ("'", '"'):
            i += 1
        out: list[int] = []
        for ch in value:
            if ch.isspace():
                if i < end and src[i] == ch:
                    out.append(i)
                    i += 1
                else:
                    out.append(i)
                    while i < end and src[i] in " \t\r\n":
                        i += 1
                continue
            while i < end and src[i] != ch:
                i += 1
            out.append(min(i, max(end - 1, 0)))
            i += 1
        return out
