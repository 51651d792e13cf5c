"""Coalesce audit requests: a burst of triggers leads to one run, re-run once if more came meanwhile.

A trigger marks `pending` and tries the lock without waiting. The holder clears the mark
before each run and runs again while it finds it set; after releasing the lock it looks
once more, so a trigger that found the lock taken just before the release is not lost.
A mark made after that last look (the process is exiting) is left for whoever comes
next: under systemd, pcie-failover-audit.path starts the service again while it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pcie_failover.adapters.files import SafeDirectory

PENDING = "pending"


@dataclass(frozen=True)
class Coalesced:
    """The last run's result (None: another process holds the lock and will run) and how many runs."""

    result: int | None
    runs: int


def coalesced(state_dir: str, run: Callable[[], int]) -> Coalesced:
    """Mark a request, then run `run` while requests are pending, unless another process already is.

    The state directory is opened once: the mark, the lock and the runs all go through that descriptor.
    """
    result: int | None = None
    runs = 0
    with SafeDirectory.open(state_dir, create=True) as directory:
        directory.touch(PENDING)
        while directory.lstat(PENDING) is not None:
            with directory.lock(blocking=False) as held:
                if not held:
                    return Coalesced(result, runs)
                while directory.unlink(PENDING):
                    result = run()
                    runs += 1
    return Coalesced(result, runs)
