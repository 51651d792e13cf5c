"""How a text report is laid out: the terminal's width and whether to colour, and pure helpers for both.

The CLI decides the Layout (cli.terminal: COLUMNS, the terminal's size, NO_COLOR); a renderer
only receives it. The default, PLAIN, is no width limit and no colour: what a pipe, a script or
a golden file gets, byte for byte the text the renderers printed before layouts existed.

Every helper takes text that is already escaped (render.escape): colour codes are added after
escaping, so the only escape sequences that reach a terminal are the ones painted here, and
visible widths never count them. Wrapping never breaks a word (a path, an address, a rule id,
a command-line option): a word longer than the width is left whole on a line of its own.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """`width`: the columns a line may use (None: no limit); `colour`: paint statuses and verdicts (SGR codes)."""

    width: int | None = None
    colour: bool = False


PLAIN = Layout()

RED, YELLOW, MAGENTA, GREEN = "1;31", "33", "35", "32"
_SGR = re.compile("\x1b\\[[0-9;]*m")  # only ever what paint() writes: escaped text holds no ESC


def paint(text: str, tone: str | None, layout: Layout) -> str:
    """`text` in colour `tone` (an SGR parameter string) when the layout colours, else unchanged."""
    if not layout.colour or tone is None or not text:
        return text
    return f"\x1b[{tone}m{text}\x1b[0m"


def visible_len(text: str) -> int:
    """The columns `text` takes: its length without the colour codes paint() adds."""
    return len(_SGR.sub("", text)) if "\x1b" in text else len(text)


def strip_colour(text: str) -> str:
    """`text` without paint()'s colour codes."""
    return _SGR.sub("", text)


def fits(text: str, width: int | None) -> bool:
    """Whether no line of `text` is wider than `width` (always, without a width)."""
    return width is None or all(visible_len(line) <= width for line in text.splitlines())


def wrap(
    text: str, width: int | None, first: str = "", rest: str = "", *, tone: str | None = None, layout: Layout = PLAIN
) -> list[str]:
    """`text` (one paragraph) as lines of at most `width` columns: `first` before the first line, `rest` before
    the others (a hanging indent), only the text itself painted in `tone`; no width: one line."""
    if width is None:
        return [first + paint(text, tone, layout)]
    lines = textwrap.wrap(
        text,
        width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    if not lines:
        return [first.rstrip()] if first.strip() else []
    prefixes = [first] + [rest] * (len(lines) - 1)
    return [prefix + paint(line[len(prefix) :], tone, layout) for prefix, line in zip(prefixes, lines, strict=True)]


def wrap_paragraphs(
    text: str, width: int | None, first: str = "", rest: str = "", *, tone: str | None = None, layout: Layout = PLAIN
) -> list[str]:
    """`text` with its own line breaks kept (multi-line hints): each of its lines wrapped, the first after
    `first`, every other line (its continuations included) after `rest`."""
    lines: list[str] = []
    for index, paragraph in enumerate(text.split("\n")):
        lines += wrap(paragraph, width, first if index == 0 else rest, rest, tone=tone, layout=layout)
    return lines


def key_value_lines(
    pairs: Sequence[tuple[str, str, str | None]], width: int, layout: Layout, indent: str = "  ", more: str = ""
) -> list[str]:
    """`key  value` lines, the values aligned after the longest key and wrapped under themselves (`tone`
    painted; a value's continuation lines indented by `more` besides); when that leaves fewer than 16 columns,
    each value goes under its key instead."""
    keys = max((len(key) for key, _, _ in pairs), default=0)
    hang = " " * (len(indent) + keys + 2)
    lines: list[str] = []
    for key, value, tone in pairs:
        if width - len(hang) >= 16:
            lines += wrap(value, width, f"{indent}{key:<{keys}}  ", hang + more, tone=tone, layout=layout)
        else:
            if key:
                lines.append(f"{indent}{key}:")
            lines += wrap(value, width, indent + "  ", indent + "  " + more, tone=tone, layout=layout)
    return lines


def fit_table(
    rows: Sequence[Sequence[str]],
    headers: Sequence[str],
    wrapped: dict[int, int | None],
    width: int,
) -> list[list[str]] | None:
    """`rows` with the columns in `wrapped` (column -> widest it may be, or None) re-wrapped so that a table of
    them is at most `width` wide; None when that would leave a wrapped column narrower than 20 columns.

    The other columns keep their widths; the room left (minus two columns between columns) is shared among
    the wrapped ones, a column that needs less than its share giving the rest to the others. A cell's own
    lines stay lines; their continuations are indented by two.
    """
    columns = len(headers)

    def widest(column: int) -> int:
        cells = [headers[column]] + [row[column] for row in rows]
        return max((visible_len(line) for cell in cells for line in cell.split("\n")), default=0)

    room = width - 2 * (columns - 1) - sum(widest(c) for c in range(columns) if c not in wrapped)
    needs = {c: min(widest(c), cap) if cap is not None else widest(c) for c, cap in wrapped.items()}
    shares: dict[int, int] = {}
    pending = sorted(needs, key=lambda c: needs[c])
    while pending:
        share = room // len(pending)
        column = pending[0]
        if needs[column] <= share:
            shares[column] = needs[column]
            room -= needs[column]
            pending.pop(0)
            continue
        for column in pending:
            shares[column] = share
        break
    if any(share < 20 for share in shares.values()):
        return None
    return [
        [
            "\n".join(line for part in cell.split("\n") for line in wrap(part, shares[column], "", "  "))
            if column in shares
            else cell
            for column, cell in enumerate(row)
        ]
        for row in rows
    ]
