"""Test helper (not a test module): QC as the ledger holds it, for tests that need a proxy row without a render.

`Ledger.record_proxy` takes renders' QcRecord and stores its `to_json()`; a row written before QC was a record
(flags as text, missing keys) is still read by review and `show`, so tests store such JSON through this stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StoredQc:
    """QC JSON of any generation, recorded as it is."""

    data: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return dict(self.data)
