"""The ledger's schema under Alembic: the revisions build exactly the models, adopt a ledger made before them with
its rows, and a server is upgraded only by `docfilm db upgrade` (exit 3 until then, without the password)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from postgres_support import PostgresCluster
from sqlalchemy import text

from assets_manifest import schema
from assets_manifest.errors import LedgerSchemaBehind, LedgerSchemaUnknown
from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings
from assets_manifest.store import Base, make_engine
from core.errors import EXIT_ENV

ROOT = Path(__file__).resolve().parent.parent
DOCFILM = Path(sys.executable).parent / "docfilm"
BEFORE_ALEMBIC = Path(__file__).parent / "fixtures" / "ledger_before_alembic.sql"


def docfilm(*args: str, home: Path, url: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFILM_")} | {"DOCFILM_HOME": str(home)}
    if url:
        env["DOCFILM_DATABASE_URL"] = url
    return subprocess.run([str(DOCFILM), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_the_revisions_build_exactly_the_models(tmp_path: Path, database_url: str | None) -> None:
    """A model changed without its revision fails here, on both databases."""
    ledger = Ledger.open(LedgerSettings(home=tmp_path / "home", database_url=database_url))
    try:
        with ledger.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert schema.current(conn) == schema.head()
    finally:
        ledger.close()


def test_head_is_the_newest_revision_shipped_and_opening_a_current_ledger_needs_no_alembic(tmp_path: Path) -> None:
    assert schema.head() == schema.shipped_head()
    Ledger.open(LedgerSettings(home=tmp_path / "home")).close()
    probe = ("import sys; from pathlib import Path; from assets_manifest.ledger import Ledger; "
             "from assets_manifest.settings import LedgerSettings; "
             f"Ledger.open(LedgerSettings(home=Path({str(tmp_path / 'home')!r}))).close(); "
             "print(sorted(m for m in sys.modules if m.startswith('alembic')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


_ADOPTED_TABLES = ("assets", "source_sightings", "quarantine", "proxies", "uploads", "review_notes")


def _columns(conn: sqlite3.Connection) -> dict[str, list[str]]:
    return {t: [row[1] for row in conn.execute(f'PRAGMA table_info("{t}")')] for t in _ADOPTED_TABLES}


def _rows(conn: sqlite3.Connection, columns: dict[str, list[str]]) -> dict[str, list[tuple[object, ...]]]:
    """Each table's rows in the columns given (those it had before: later revisions add columns)."""
    return {t: sorted(conn.execute(f'SELECT {", ".join(names)} FROM "{t}"').fetchall(), key=repr)
            for t, names in columns.items()}


def test_a_sqlite_ledger_made_before_alembic_is_adopted_with_its_rows(tmp_path: Path) -> None:
    """The tables as the previous `create_all` made them (their DDL kept in tests/fixtures), with rows in each."""
    home = tmp_path / "home"
    home.mkdir()
    db = home / "ledger.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript(BEFORE_ALEMBIC.read_text())
        conn.execute("INSERT INTO assets VALUES ('a1', 'ff', 'xx', 3000000000, 'clip', '/lib/clip.mov', x'2fff', "
                     "'video', 'mov', 'h264', 1920, 1080, 25, 1, 250, 0, 'progressive', 0, 2, '10:00:00:00', 'S01', "
                     "NULL, '{\"streams\": []}', '2019-05-20 09:30:00.000000')")
        conn.execute("INSERT INTO source_sightings VALUES (1, 'a1', '/card/clip.mov', x'2fff', 3000000000, "
                     "1558344600123456789, '2019-05-20 09:30:00.000000')")
        conn.execute("INSERT INTO quarantine VALUES (1, '/card/bad.mov', x'2f', NULL, 'moov atom not found', "
                     "'2019-05-20 09:30:00.000000')")
        conn.execute("INSERT INTO proxies VALUES ('a1', 'p1', 'done', '/r/a1.mp4', '/r/a1.jpg', NULL, '{}', "
                     "'2019-05-20 09:31:00.000000')")
        conn.execute("INSERT INTO uploads VALUES ('http://s3', 'b', 'proxies/a1.mp4', '/r/a1.mp4', 'ee', 'c=', 10, "
                     "NULL, NULL, 'a1', 'proxy', '2019-05-20 09:32:00.000000')")
        conn.execute("INSERT INTO review_notes VALUES ('n1', 'film', 'S01', 'a1', 'Lan', 'approve', 'ok', 3, NULL, "
                     "NULL, '2019-05-22 03:04:05.000000', 'p', 'm', '/n.json', 'f', '2019-05-22 04:00:00.000000')")
        columns = _columns(conn)
        before = _rows(conn, columns)
    conn.close()

    ledger = Ledger.open(LedgerSettings(home=home))
    try:
        (asset,) = ledger.assets()
        assert (asset.asset_id, asset.size, asset.path_bytes) == ("a1", 3000000000, b"/\xff")
        assert ledger.proxies("p1")["a1"].proxy_path == "/r/a1.mp4"
    finally:
        ledger.close()
    with sqlite3.connect(db) as conn:
        assert _rows(conn, columns) == before, "not a row lost or changed"
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(schema.head(),)]
    conn.close()


def test_a_server_ledger_made_before_alembic_is_adopted_by_db_upgrade(tmp_path: Path,
                                                                      postgres_cluster: PostgresCluster) -> None:
    """As `create_all` left it on PostgreSQL: revision 0001's tables (32-bit sizes) with no alembic_version."""
    url = postgres_cluster.new_database()
    engine = make_engine(url)
    with engine.begin() as conn:
        config = schema._config(conn)
        command.upgrade(config, "0001")
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("INSERT INTO assets VALUES ('a1', 'ff', 'xx', 2000000000, 'clip', '/lib/c.mov', '\\xff', "
                          "'video', 'mov', NULL, NULL, NULL, NULL, NULL, NULL, 0, 'progressive', false, 0, NULL, "
                          "'S01', NULL, '{}', now())"))
    engine.dispose()

    behind = docfilm("status", home=tmp_path / "home", url=url)
    assert behind.returncode == EXIT_ENV, behind.stderr
    assert "docfilm db upgrade" in behind.stderr and f"127.0.0.1:{postgres_cluster.port}" in behind.stderr
    assert postgres_cluster.password not in behind.stderr + behind.stdout
    assert "Traceback" not in behind.stderr

    up = docfilm("db", "upgrade", "--json", home=tmp_path / "home", url=url)
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout) == {"ledger": f"postgresql server 127.0.0.1:{postgres_cluster.port}",
                                     "from": None, "to": schema.head(), "changed": True}
    assert postgres_cluster.password not in up.stdout + up.stderr
    again = docfilm("db", "upgrade", home=tmp_path / "home", url=url)
    assert again.returncode == 0 and f"already at revision {schema.head()}" in again.stdout, again.stderr

    ledger = Ledger.open(LedgerSettings(database_url=url))
    try:
        (asset,) = ledger.assets()
        assert asset.asset_id == "a1" and asset.path_bytes == b"\xff"
        with ledger.session(write=True) as s:  # widened by 0002: a 6 GiB master fits now
            s.execute(text("UPDATE assets SET size = 6442450944"))
        assert ledger.assets()[0].size == 6442450944
    finally:
        ledger.close()
    ok = docfilm("status", "--json", home=tmp_path / "home", url=url)
    assert ok.returncode == 0, ok.stderr


def test_an_empty_server_is_refused_until_upgraded(postgres_cluster: PostgresCluster) -> None:
    url = postgres_cluster.new_database()
    with pytest.raises(LedgerSchemaBehind) as caught:
        Ledger.open(LedgerSettings(database_url=url))
    assert caught.value.exit_code == EXIT_ENV
    assert "`docfilm db upgrade`" in str(caught.value) and postgres_cluster.password not in str(caught.value)
    revision = Ledger.upgrade(LedgerSettings(database_url=url))
    assert (revision.before, revision.after, revision.changed) == (None, schema.head(), True)
    Ledger.open(LedgerSettings(database_url=url)).close()


def test_a_ledger_from_a_newer_docfilm_is_refused(tmp_path: Path, database_url: str | None) -> None:
    settings = LedgerSettings(home=tmp_path / "home", database_url=database_url)
    Ledger.open(settings).close()
    engine = make_engine(settings.url())
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(LedgerSchemaUnknown) as caught:
        Ledger.open(settings)
    assert "9999" in str(caught.value) and caught.value.exit_code == EXIT_ENV
    with pytest.raises(LedgerSchemaUnknown):
        Ledger.upgrade(settings)


def test_db_upgrade_on_the_embedded_sqlite(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = docfilm("db", "upgrade", "--json", home=home, url=None)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"ledger": f"SQLite file {(home / 'ledger.sqlite').resolve()}",
                                        "from": None, "to": schema.head(), "changed": True}
    second = docfilm("db", "upgrade", home=home, url=None)
    assert second.returncode == 0 and "already at revision" in second.stdout


def test_missing_postgresql_binaries_fail_the_tests_that_need_them_with_how_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster fixture turns this into pytest.fail, never a skip: CI must prove the PostgreSQL tests ran."""
    import postgres_support

    monkeypatch.setattr(postgres_support, "POSTGRES_BINARIES", tmp_path / "nothing-here")
    with pytest.raises(FileNotFoundError, match=r"apt-get install postgresql"):
        postgres_support.start_cluster()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_revision_0007_adds_part_hashes_keeping_the_assets(tmp_path: Path, database: str,
                                                           request: pytest.FixtureRequest) -> None:
    """A ledger at 0006 with an asset: upgraded, the asset is kept with no part hashes (it uploads as before), and
    part hashes recorded since read back as written."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from assets_manifest.store import Asset
    from core.part_hashes import PartHashes

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}" if database == "sqlite" \
        else request.getfixturevalue("postgres_cluster").new_database()
    engine = make_engine(url)
    with engine.begin() as conn:
        command.upgrade(schema._config(conn), "0006")
        conn.execute(text(
            "INSERT INTO assets (asset_id, sha256, xxh128, size, name, path, path_bytes, kind, container, rotation, "
            "field_order, vfr, audio_tracks, probe, ingested_at) VALUES ('a1', :sha, 'xx', 3000000000, 'clip', "
            "'/lib/clip.mov', :raw, 'video', 'mov', 0, 'progressive', false, 2, '{}', :when)"),
            {"sha": "ab" * 32, "raw": b"/\xff", "when": datetime(2019, 5, 20, tzinfo=UTC)})
    engine.dispose()
    settings = LedgerSettings(home=tmp_path / "home", database_url=url)
    assert Ledger.upgrade(settings).before == "0006"
    ledger = Ledger.open(settings)
    try:
        (asset,) = ledger.assets()
        assert (asset.asset_id, asset.size, asset.part_size, asset.part_hashes) == ("a1", 3000000000, None, None)
        parts = PartHashes(8 * 1024 * 1024, (b"\x01" * 32, b"\x02" * 32))
        with ledger.session(write=True) as s:
            s.execute(update(Asset).values(part_size=parts.part_size, part_sha256=parts.blob()))
        (asset,) = ledger.assets()
        assert asset.part_hashes == parts
    finally:
        ledger.close()
