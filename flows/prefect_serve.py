"""Entry of docfilm's own Prefect API server process (see flows.prefect_server): uvicorn, with Python's cyclic
garbage collector paused while Prefect's server package is imported.

Importing that package creates a few hundred thousand long-lived objects (pydantic models, SQLAlchemy
tables, FastAPI routes), and the collector scans them again and again as they pile up, finding nothing to
free: measured here, 3.4 s of CPU for the import with the collector paused against 3.8-4.7 s with it running,
on the critical path of every flow command that starts its own server. After the import the objects are moved
out of the collector's sight (gc.freeze) and collection resumes as usual for the server's lifetime.

Usage (by flows.prefect_server, never by hand): python -m flows.prefect_serve <uvicorn options>
"""

from __future__ import annotations

import gc

from core.collector import collector_paused


def main() -> None:
    with collector_paused():
        import prefect.server.api.server  # noqa: F401  # the app uvicorn's --factory will build
        import uvicorn.main
    gc.freeze()
    uvicorn.main.main()  # a click command: reads sys.argv[1:], exits itself


if __name__ == "__main__":
    main()
