"""Where the ledger and the footage library live."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LedgerSettings(BaseSettings):
    """Ledger location: SQLite under DOCFILM_HOME unless DOCFILM_DATABASE_URL names another database."""

    model_config = SettingsConfigDict(env_prefix="DOCFILM_", extra="ignore")

    home: Path = Field(Path(".docfilm"), description="Data dir: ledger, renders, packets, embedded S3 data.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the ledger (e.g. postgresql+psycopg://USER:PASSWORD@HOST:5432/DB, whose "
        "schema `docfilm db upgrade` applies); default SQLite in WAL mode at DOCFILM_HOME/ledger.sqlite, which "
        "applies its migrations itself.",
    )
    database_pool_size: int = Field(
        16,
        ge=1,
        description="Connections one docfilm process keeps open to a database server (as many more may open "
        "for a burst and close after): enough for the threads that use the ledger at once, e.g. a farm's 16 "
        "lease claimers. Connections open only when needed; ignored for SQLite.",
    )
    library: Path | None = Field(
        None,
        description="Footage library: ingest copies every card or folder here (verified, with ASC MHL "
        "generations) unless told --in-place; default DOCFILM_HOME/library.",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url_is_supported(cls, value: str | None) -> str | None:
        """SQLite or PostgreSQL through psycopg 3 (the driver docfilm installs); postgresql:// and postgres:// are
        taken as postgresql+psycopg://."""
        if value is None or value == "":
            return None
        scheme, sep, rest = value.partition("://")
        if sep and scheme in ("postgresql", "postgres", "postgresql+psycopg"):
            return f"postgresql+psycopg://{rest}"
        if sep and scheme == "sqlite":
            return value
        raise ValueError("docfilm's ledger runs on SQLite (sqlite:///PATH) or PostgreSQL "
                         "(postgresql+psycopg://USER:PASSWORD@HOST:5432/DB)")

    def url(self) -> str:
        """The SQLAlchemy URL to connect to."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'ledger.sqlite').resolve()}"

    def library_dir(self) -> Path:
        """The library folder, absolute."""
        return (self.library or self.home / "library").absolute()
