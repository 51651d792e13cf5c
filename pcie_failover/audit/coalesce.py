"""Coalesce audit requests: a burst of triggers leads to one run, re-run once if more came meanwhile.

A trigger marks `pending` and tries the lock without waiting. The holder clears the mark
before each run and runs again while it finds it set; after releasing the lock it looks
once more, so a trigger that found the lock taken just before the release is not lost.
A mark made after that last look (the process is exiting) is left for whoever comes
next: under systemd, pcie-failover-audit.path starts the service again while it exists.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from pcie_failover.adapters.files import ensure_directory, locked

PENDING = "pending"


@dataclass(frozen=True)
class Coalesced:
    """The last run's result (None: another process holds the lock and will run) and how many runs."""

    result: int | None
    runs: int


def mark(state_dir: str) -> None:
    """Record that the host changed (what the udev rule does, in shell)."""
    ensure_directory(state_dir)
    with open(os.path.join(state_dir, PENDING), "a", encoding="utf-8"):
        pass


def coalesced(state_dir: str, run: Callable[[], int]) -> Coalesced:
    """Mark a request, then run `run` while requests are pending, unless another process already is."""
    mark(state_dir)
    pending = os.path.join(state_dir, PENDING)
    result: int | None = None
    runs = 0
    while os.path.exists(pending):
        with locked(state_dir, blocking=False) as held:
            if not held:
                return Coalesced(result, runs)
            while os.path.exists(pending):
                os.unlink(pending)
                result = run()
                runs += 1
    return Coalesced(result, runs)
