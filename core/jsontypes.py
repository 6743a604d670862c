"""The type of JSON made at the edge from a record (`to_json()`): read back only through the record, never
field by field, so its values are `object`, not `Any`."""

from __future__ import annotations

JsonObject = dict[str, object]
