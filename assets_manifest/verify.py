"""Re-hash masters against the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .hashing import digest_file
from .ledger import Ledger


def verify_library(ledger: Ledger) -> dict[str, Any]:
    """Check every asset's master file still holds the bytes the ledger recorded; report all, raise none."""
    mismatched: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    assets = ledger.assets()
    for a in assets:
        path = Path(a.path)
        try:
            d = digest_file(path)
        except FileNotFoundError:
            missing.append({"path": a.path, "asset_id": a.asset_id})
            continue
        except OSError as exc:
            missing.append({"path": a.path, "asset_id": a.asset_id, "reason": exc.strerror})
            continue
        if d.sha256 != a.sha256 or d.xxh128 != a.xxh128:
            mismatched.append({"path": a.path, "asset_id": a.asset_id, "expected_sha256": a.sha256,
                               "found_sha256": d.sha256})
    return {"checked": len(assets), "mismatched": mismatched, "missing": missing}
