"""The one place that decides a text report's Layout (render.layout): width and colour, from the environment.

- width: `COLUMNS` when set to a positive integer; else the terminal's width when standard output
  is a terminal; else None (no limit: piped output stays what scripts and golden files expect).
- colour: standard output is a terminal, `NO_COLOR` is unset or empty (https://no-color.org) and
  `TERM` is not `dumb`.

Only the text formats ask (never `--format json`); it costs an isatty and, on a terminal, one
TIOCGWINSZ ioctl (os.get_terminal_size): no import beyond os and sys.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from pcie_failover.render.layout import Layout


def _is_terminal(stream: TextIO | None) -> bool:
    if stream is None:
        return False
    try:
        return stream.isatty()
    except (OSError, ValueError):  # closed, or no descriptor
        return False


def _columns(value: str | None) -> int | None:
    """`COLUMNS` as a width: a positive integer, else None (unset, empty, garbage, zero, negative)."""
    if not value:
        return None
    try:
        columns = int(value)
    except ValueError:
        return None
    return columns if columns > 0 else None


def _terminal_width(stream: TextIO) -> int | None:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):  # no size (a serial line may report 0), or no descriptor
        return None
    return columns if columns > 0 else None


def terminal_layout(stream: TextIO | None = None, environ: Mapping[str, str] | None = None) -> Layout:
    """The Layout for a report written to `stream` (standard output) under `environ` (os.environ)."""
    stream = sys.stdout if stream is None else stream
    environ = os.environ if environ is None else environ
    terminal = _is_terminal(stream)
    width = _columns(environ.get("COLUMNS"))
    if width is None and terminal:
        width = _terminal_width(stream)
    colour = terminal and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"
    return Layout(width=width, colour=colour)
