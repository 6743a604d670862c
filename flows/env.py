"""Process environment for docfilm's Prefect runs, set before prefect is imported."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .prefect_server import (
    USER_PREFECT_SETTINGS,
    PrefectApiUnreachable,
    api_request,
    local_server,
    own_server_in_use,
    start_local_server,
    use_served_server,
)


def docfilm_home() -> Path:
    return Path(os.environ.get("DOCFILM_HOME", ".docfilm")).absolute()


def prefect_configured() -> bool:
    """True when the user configured Prefect (an API URL, a home or a profile): then Prefect decides where runs go."""
    return any(name in os.environ for name in USER_PREFECT_SETTINGS)


def prepare_prefect_env() -> None:
    """Quiet, offline-friendly Prefect defaults; anything the user set wins.

    Analytics off, server and client: offline it only logs "database is locked" and name-resolution errors. Without a
    configured server, the ephemeral one keeps its database under DOCFILM_HOME so one film's runs stay
    together, and gets more time to start (its first start creates the database: 12–19 s here).
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The client's own telemetry (and, on a terminal, its notice) has no server setting: DO_NOT_TRACK is its switch.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "false")
    os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "false")
    if not prefect_configured():
        home = docfilm_home() / "prefect"
        home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(home)


def start_prefect() -> None:
    """For a command about to run a flow: the defaults above and, with no Prefect configured, the server a
    running `docfilm serve` keeps for this home, else this process's own Prefect server started now (see
    flows.prefect_server), to boot while the flows are imported."""
    if local_server() is not None:
        return
    configured = prefect_configured()
    prepare_prefect_env()
    if not configured and not use_served_server(Path(os.environ["PREFECT_HOME"])):
        start_local_server(Path(os.environ["PREFECT_HOME"]))


# What a process's first flow run imports lazily (Prefect's engine and the FastAPI encoder it serialises
# parameters with; the Workspace's storyboard, ledger and profile): about 0.5 s, imported instead while the
# server is still starting and this process would only wait.
FIRST_RUN_MODULES = (
    "prefect.flow_engine", "prefect.task_engine", "prefect.utilities.visualization", "fastapi.encoders",
    "anyio._backends._asyncio", "storyboard.loader", "assets_manifest.ledger", "renders.profile",
)


def _import_first_run_modules() -> None:
    import importlib
    from contextlib import suppress

    for name in FIRST_RUN_MODULES:
        with suppress(ImportError):  # an optional extra of Prefect's; the flow run imports what it needs itself
            importlib.import_module(name)


def heartbeats_read(sent: bool = True) -> bool:
    """Whether anything reads the flow-run heartbeats of this process's flows: not on docfilm's own servers (a
    command's, `docfilm serve`'s), which run no automations, nor where the settings say the server at
    PREFECT_API_URL runs none (`sent` False: DOCFILM_PREFECT_HEARTBEATS=off, which `farm local` writes into its
    env file and its workers' environment)."""
    return sent and not own_server_in_use()


@contextmanager
def prefect_ready(heartbeats: bool = True) -> Iterator[None]:
    """Around flow calls (prefect imported): waits for this process's own server, if it started one, and then
    runs flows without heartbeats when nothing reads them (heartbeats_read: docfilm's own server, this process's or
    `docfilm serve`'s, or a server said to run no automations).
    Heartbeats let a server's automations mark a crashed run; docfilm's servers run no automations
    (UNUSED_SERVER_WORK), so nothing would read them, and each flow run's end waits up to a second for its
    heartbeat thread (five flow runs in a pipeline). With any other server, Prefect's settings stand."""
    if not own_server_in_use():
        _configured_api_answers()
    if heartbeats_read(heartbeats):
        yield
        return
    server = local_server()
    _import_first_run_modules()
    from prefect.settings import temporary_settings

    # The settings are rebuilt from the environment (0.3-0.9 s of CPU here): while the server still starts.
    with temporary_settings(updates={"flows.heartbeat_frequency": None}):
        if server is not None:
            server.wait_ready()
        yield


def _configured_api_answers() -> None:
    """A configured Prefect API that nothing answers on, or that refuses the credentials given, is refused before
    the first flow run (exit 3, naming it as host:port), not met as Prefect's traceback inside it. Any other HTTP
    answer counts as an answer: Prefect then says what is wrong with it."""
    import urllib.error
    import urllib.request

    from prefect.settings import get_current_settings

    from core.errors import endpoint_of

    api = get_current_settings().api
    if not api.url:
        return
    url = f"{api.url.rstrip('/')}/admin/version"  # what Prefect's client asks first
    if api.key is not None:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api.key.get_secret_value()}"})
    elif api.auth_string is not None:
        request = api_request(url, api.auth_string.get_secret_value())
    else:
        request = urllib.request.Request(url)
    place = f"the Prefect API at {endpoint_of(api.url)} (PREFECT_API_URL)"
    try:
        with urllib.request.urlopen(request, timeout=15):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise PrefectApiUnreachable(
                f"{place} refused docfilm's credentials (HTTP {exc.code}): set PREFECT_API_AUTH_STRING to the "
                "server's USER:PASSWORD (or PREFECT_API_KEY for Prefect Cloud)"
            ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PrefectApiUnreachable(
            f"{place} does not answer ({reason}): start that server, or unset PREFECT_API_URL so that docfilm runs "
            "its own"
        ) from exc
