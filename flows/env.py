"""Process environment for docfilm's Prefect runs, set before prefect is imported."""

from __future__ import annotations

import os
from pathlib import Path


def docfilm_home() -> Path:
    return Path(os.environ.get("DOCFILM_HOME", ".docfilm")).absolute()


def prepare_prefect_env() -> None:
    """Quiet, offline-friendly Prefect defaults; anything the user set wins.

    Analytics off: offline it only logs "database is locked" and name-resolution errors. Without a
    configured server, the ephemeral one keeps its database under DOCFILM_HOME so one film's runs stay
    together, and gets more time to start (its first start creates the database: 12–19 s here).
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "false")
    os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "false")
    if "PREFECT_API_URL" not in os.environ and "PREFECT_HOME" not in os.environ:
        home = docfilm_home() / "prefect"
        home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(home)
