"""`docfilm db`: the ledger's database itself (its schema revision), without Prefect."""

from __future__ import annotations

import typer

from .application import JsonOpt, _emit, _settings, app, out

db_app = typer.Typer(help="The ledger's database: its schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(as_json: JsonOpt = False) -> None:
    """Apply the ledger's schema migrations to DOCFILM_DATABASE_URL (the embedded SQLite does it by itself)."""
    from assets_manifest.ledger import Ledger, ledger_place

    settings = _settings().ledger
    revision = Ledger.upgrade(settings)
    result: dict[str, object] = {"ledger": ledger_place(settings.url()), "from": revision.before, "to": revision.after,
              "changed": revision.changed}
    _emit(result, as_json, _print_upgrade)


def _print_upgrade(r: dict[str, object]) -> None:
    if r["changed"]:
        before = f"revision {r['from']}" if r["from"] else "no schema"
        out.print(f"{r['ledger']}: upgraded from {before} to revision {r['to']}", markup=False, soft_wrap=True)
    else:
        out.print(f"{r['ledger']}: already at revision {r['to']}", markup=False, soft_wrap=True)
