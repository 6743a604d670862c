# Two commands on a fresh machine: `make demo` runs the whole pipeline on the bundled film,
# `make test` runs the tests. Both install what they need first (scripts/bootstrap.sh).
SHELL := /bin/bash
VENV := .venv
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: demo test lint bench

demo:
	@scripts/bootstrap.sh demo
	$(VENV)/bin/docfilm demo

test:
	@scripts/bootstrap.sh test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy core storyboard assets_manifest renders delivery review editorial figures farm flows bench
	$(VENV)/bin/pytest

lint:
	@scripts/bootstrap.sh test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy core storyboard assets_manifest renders delivery review editorial figures farm flows bench

bench:
	@scripts/bootstrap.sh test
	$(VENV)/bin/python bench/ingest.py
	$(VENV)/bin/python bench/render.py
	$(VENV)/bin/python bench/render_variants.py
	$(VENV)/bin/python bench/packet.py
	$(VENV)/bin/python bench/upload.py
	$(VENV)/bin/python bench/facts.py
	$(VENV)/bin/python bench/cut.py
	$(VENV)/bin/python bench/render_farm.py
