"""`docfilm render` with nothing stale, decided from an SQLite ledger by the sqlite3 module alone.

`steps.render_plan` answers the same question through SQLAlchemy: importing it and its models and loading
an ORM object per asset and per proxy costs more than the rest of the command (about 0.5 s of CPU for 1,000
assets here). For the embedded ledger (SQLite at its schema's head) this module asks the same thing in one
read-only query over the same rows, with the same rule (`steps._proxy_files_present`): every asset has a
finished proxy for this render profile, whose files are in S3 (keys recorded) or all on this disk.

It only ever answers "nothing stale" (with the count of proxies up to date) or "don't know" (None): a ledger
elsewhere (PostgreSQL), one not at this docfilm's schema head (it needs migrating, which the ledger does
when it opens), one that cannot be read, or a single stale asset all return None, and the command then plans
with `steps.render_plan` as before. Nothing here writes.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).resolve().parent.parent / "assets_manifest" / "migrations" / "versions"
_QUERY = """
SELECT p.state, p.proxy_path, p.poster_path, p.proxy_key, p.poster_key, p.qc
FROM assets AS a LEFT JOIN proxies AS p ON p.asset_id = a.asset_id AND p.profile_hash = ?
WHERE a.kind IN ({kinds}){scene}
"""


def _schema_head() -> str | None:
    """The newest ledger revision shipped (the one no migration names as its down_revision), from the files."""
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        for script in _MIGRATIONS.glob("*.py"):
            text = script.read_text(encoding="utf-8")
            if found := re.search(r"""^revision(?:\s*:\s*str)?\s*=\s*["']([^"']+)["']""", text, re.M):
                revisions.add(found.group(1))
            parents.update(re.findall(r"""^down_revision[^=\n]*=\s*["']([^"']+)["']""", text, re.M))
    except OSError:
        return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _files_present(proxy_path: str | None, poster_path: str | None, proxy_key: str | None, poster_key: str | None,
                   qc: str | None) -> bool:
    """steps._proxy_files_present over the row's columns."""
    if proxy_key and poster_key:
        return True
    if not (proxy_path and poster_path):
        return False
    sheet = None
    if qc:
        try:
            sheet = (json.loads(qc) or {}).get("contact_sheet")
        except (ValueError, AttributeError):
            return False
    return all(Path(p).exists() for p in (proxy_path, poster_path, sheet) if p)


def nothing_stale(ledger_url: str, profile_hash: str, scene: str | None = None) -> int | None:
    """How many proxies are up to date when none is stale; None when some is, or when this cannot tell."""
    from core.vocabulary import MEDIA_KINDS

    if not ledger_url.startswith("sqlite:///"):
        return None
    path = Path(ledger_url.removeprefix("sqlite:///"))
    if not path.is_file():
        return None
    head = _schema_head()
    query = _QUERY.format(kinds=", ".join("?" * len(MEDIA_KINDS)), scene=" AND a.scene_id = ?" if scene else "")
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            revision = db.execute("SELECT version_num FROM alembic_version").fetchall()
            if head is None or revision != [(head,)]:
                return None  # not at this docfilm's schema: the ledger migrates it when it opens
            rows = db.execute(query, (profile_hash, *MEDIA_KINDS, *([scene] if scene else []))).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        log.debug("render staleness from %s by sqlite3: %s; asking the ledger", path, exc)
        return None
    for state, *files in rows:
        if state != "done" or not _files_present(*files):
            return None
    return len(rows)
