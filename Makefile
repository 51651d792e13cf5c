# Quick start: `make demo` (check the bundled demo host), `make test` (the whole suite).
BIN := .venv/bin
DEMO := fixtures_sysfs/demo-host

.PHONY: demo test lint unit fixtures capture

demo:
	@scripts/bootstrap
	$(BIN)/pcie-failover --sysfs-root $(DEMO) check 5e:00.2

test: lint unit

lint:
	@scripts/bootstrap test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit:
	@scripts/bootstrap test
	@scripts/system-packages
	$(BIN)/pytest

# Regenerate the hand-made trees (demo host) from fixtures_sysfs/hosts.py.
fixtures:
	@scripts/bootstrap test
	$(BIN)/python -m fixtures_sysfs build

# Re-capture every real-kernel topology (root; about 2 minutes here).
capture:
	@scripts/bootstrap test
	$(BIN)/python -m lab capture --all

# The command itself (`make install`, as root; PREFIX, DESTDIR for packaging): a private venv (Debian 12's
# PEP 668 forbids a system-wide pip) in $(VENVDIR), holding this tree and its dependencies, and a link to
# its pcie-failover in $(BINDIR). Below a DESTDIR, the venv's scripts are rewritten to name $(VENVDIR).
# Outside /home, /root and /tmp: the units' sandbox (ProtectHome=, PrivateTmp=) cannot see those.
PYTHON ?= python3
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
VENVDIR ?= $(PREFIX)/lib/pcie-failover

.PHONY: install install-venv install-relocate uninstall

# venv writes the absolute, normalised path into its scripts: match that form (DESTDIR may be relative or end in /)
STAGED = $(abspath $(DESTDIR)$(VENVDIR))
FINAL = $(abspath $(VENVDIR))

install:
	$(MAKE) --no-print-directory install-venv
	$(MAKE) --no-print-directory install-relocate
	mkdir -p '$(DESTDIR)$(BINDIR)'
	ln -sfn '$(FINAL)/bin/pcie-failover' '$(DESTDIR)$(BINDIR)/pcie-failover'

install-venv:
	$(PYTHON) -m venv '$(STAGED)'
	built=$$(test -e build || echo yes); \
		'$(STAGED)/bin/python' -m pip install --no-input --no-warn-script-location '$(CURDIR)' && \
		if [ -n "$$built" ]; then rm -rf build; fi  # setuptools builds in the tree: leave no build/ behind

# Under a DESTDIR, the venv's scripts name the staging path: point them at the final one.
install-relocate:
	if [ '$(STAGED)' != '$(FINAL)' ]; then \
		grep -lrF '$(STAGED)' '$(STAGED)/bin' '$(STAGED)/pyvenv.cfg' | xargs -r sed -i 's|$(STAGED)|$(FINAL)|g'; \
		! grep -rqF '$(STAGED)' '$(STAGED)/bin' '$(STAGED)/pyvenv.cfg' || \
			{ echo 'staging path left in $(STAGED)' >&2; exit 1; }; \
	fi

uninstall:
	rm -f '$(DESTDIR)$(BINDIR)/pcie-failover'
	rm -rf '$(DESTDIR)$(VENVDIR)'

# udev rule, systemd units and tmpfiles entry (`make install-udev`, as root; DESTDIR for packaging): the
# package's own files (pcie_failover/units/, which rules/ links to), installed by `pcie-failover install-units`.
UDEVDIR ?= $(shell pkg-config --variable=udevdir udev 2>/dev/null || echo /lib/udev)
UNITDIR ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
TMPFILESDIR ?= $(shell pkg-config --variable=tmpfilesdir systemd 2>/dev/null || echo /usr/lib/tmpfiles.d)
UNITS := pcie-failover-audit.service pcie-failover-audit.path pcie-failover-audit.timer pcie-failover-watch.service

.PHONY: install-udev uninstall-udev

install-udev:
	$(BIN)/pcie-failover install-units --force --destdir '$(DESTDIR)' --bindir '$(BINDIR)' \
		--udevdir '$(UDEVDIR)' --unitdir '$(UNITDIR)' --tmpfilesdir '$(TMPFILESDIR)'

uninstall-udev:
	rm -f $(DESTDIR)$(UDEVDIR)/rules.d/90-pcie-failover.rules $(DESTDIR)$(TMPFILESDIR)/pcie-failover.conf
	for unit in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$unit; done
	if [ -z "$(DESTDIR)" ]; then systemctl daemon-reload; udevadm control --reload; fi
