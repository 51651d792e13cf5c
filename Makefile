# Quick start: `make demo` (check the bundled demo host), `make test` (the whole suite).
BIN := .venv/bin
DEMO := fixtures_sysfs/demo-host

.PHONY: demo test lint unit fixtures capture

demo:
	@scripts/bootstrap
	$(BIN)/pcie-failover --sysfs-root $(DEMO) check 5e:00.2

test: lint unit

lint:
	@scripts/bootstrap test,lab
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit:
	@scripts/bootstrap test,lab
	$(BIN)/pytest

# Regenerate the hand-made trees (demo host) from fixtures_sysfs/hosts.py.
fixtures:
	@scripts/bootstrap test,lab
	$(BIN)/python -m fixtures_sysfs build

# Re-capture every real-kernel topology (root; about 2 minutes here).
capture:
	@scripts/bootstrap test,lab
	$(BIN)/python -m lab capture --all
