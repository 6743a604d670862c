"""The farm's calls to the Prefect API beside its flows (flows/docfilm_flows.py): the host's ffmpeg limit, the
render-asset deployment and its pool's online workers, the states of submitted flow runs. Imported only by the
farm flows, when they run."""

from __future__ import annotations

from typing import Any
from uuid import UUID


def host_slot(name: str) -> Any:
    """A context factory taking one slot of the host's ffmpeg limit; None when no such limit exists (asked once)."""
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            return None
    return lambda: concurrency(name, occupy=1, strict=False)


def farm_deployment(name: str, pool: str) -> tuple[UUID, int]:
    """The render-asset deployment's id and how many workers of its pool are online; DeploymentMissing if absent."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from farm.errors import DeploymentMissing

    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound:
            raise DeploymentMissing(
                f"no deployment {name} on the Prefect server: deploy it (`prefect --no-prompt deploy --name "
                f"{name.split('/')[-1]}` from the project) or start `docfilm farm local`") from None
        try:
            workers = client.read_workers_for_work_pool(pool)
        except ObjectNotFound:
            raise DeploymentMissing(f"no work pool {pool} on the Prefect server: "
                                    f"`prefect work-pool create --type process {pool}`") from None
    online = sum(1 for w in workers if str(getattr(w, "status", "")).upper().endswith("ONLINE"))
    return deployment.id, max(1, online)


def flow_run_states(ids: list[Any]) -> dict[Any, tuple[str, str]]:
    """(state type, message) of these flow runs, asked 200 at a time."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    out: dict[Any, tuple[str, str]] = {}
    with get_client(sync_client=True) as client:
        for i in range(0, len(ids), 200):
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids[i:i + 200])),
                                         limit=200)
            for r in runs:
                state = r.state
                out[r.id] = (state.type.value if state else "SCHEDULED", (state.message or "") if state else "")
    return out
