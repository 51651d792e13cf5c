"""`watch`: audit whenever udev or rtnetlink says the host changed; stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import selectors
import signal
import time
from collections.abc import Callable, Sequence

from pcie_failover.adapters.events import EventSource
from pcie_failover.adapters.files import SafeDirectory

QUIET_SECONDS = 0.5  # a burst is over when nothing came for this long
LONGEST_BURST = 5.0  # but a stream of events never delays the audit longer than this


def watch(
    sources: Sequence[EventSource],
    audit: Callable[[], int],
    state_dir: str,
    *,
    quiet: float = QUIET_SECONDS,
    stop_after: int | None = None,
) -> int:
    """Audit once at start, then after every burst of events; returns when signalled (or after `stop_after` audits)."""
    with SafeDirectory.open(state_dir, create=True) as directory:
        return _watch(sources, audit, directory, quiet, stop_after)


def _watch(
    sources: Sequence[EventSource], audit: Callable[[], int], state: SafeDirectory, quiet: float, stop_after: int | None
) -> int:
    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    previous = signal.set_wakeup_fd(write_end)
    handlers = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    selector = selectors.DefaultSelector()
    selector.register(read_end, selectors.EVENT_READ, None)
    for source in sources:
        selector.register(source.fileno(), selectors.EVENT_READ, source)
    audits = 0
    try:
        pending = True  # level-triggered: the state at start counts as a change
        while True:
            if pending:
                with state.lock():  # never at the same time as the udev-started audit; no mark, or
                    audit()  # pcie-failover-audit.path would start that audit again for nothing
                audits += 1
                pending = False
                if stop_after is not None and audits >= stop_after:
                    return 0
            for key, _ in selector.select(timeout=None if not pending else quiet):
                if key.data is None:
                    return 0  # a signal arrived
                pending = key.data.drain() > 0 or pending
            deadline = time.monotonic() + LONGEST_BURST
            while pending and time.monotonic() < deadline:  # wait for the burst to end, collecting what comes
                ready = selector.select(timeout=quiet)
                if not ready:
                    break
                for key, _ in ready:
                    if key.data is None:
                        return 0
                    key.data.drain()
    finally:
        selector.close()
        signal.set_wakeup_fd(previous)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        os.close(read_end)
        os.close(write_end)
