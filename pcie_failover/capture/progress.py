"""Progress of a long capture: one line on standard error, rewritten in place, only when that is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from pcie_failover.capture.command import READING
from pcie_failover.cli.app import global_options

INTERVAL = 0.1  # seconds between two frames of one stage (a terminal need not redraw 4096 times)
_REWRITE = "\r\x1b[K"  # back to the start of the line and erase it


class TerminalProgress:
    """Frames for `run_capture`'s progress: each stage's first and last frame always, others at most every INTERVAL."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.stage = ""
        self.shown = 0.0
        self.drawn = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == self.stage and done < total and now - self.shown < INTERVAL:
            return
        self.stage, self.shown, self.drawn = stage, now, True
        unit = "device" if stage == READING else "path"
        text = f"{stage} {done}/{total} {unit}{'' if total == 1 else 's'}"
        self.stream.write(f"{_REWRITE}capture: {text}")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the line (before the summary, or an error, is written)."""
        if self.drawn:
            self.stream.write(_REWRITE)
            self.stream.flush()
            self.drawn = False


def terminal_progress() -> TerminalProgress | None:
    """A progress line when standard error is a terminal (and not --quiet), else None: nothing is shown."""
    stream = sys.stderr
    if global_options().quiet or stream is None or not stream.isatty():
        return None
    return TerminalProgress(stream)
