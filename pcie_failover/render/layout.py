"""How a text report is laid out: the terminal's width and whether to colour, and pure helpers for both.

The CLI decides the Layout (cli.terminal: COLUMNS, the terminal's size, NO_COLOR); a renderer
only receives it. The default, PLAIN, is no width limit and no colour: what a pipe, a script or
a golden file gets, byte for byte the text the renderers printed before layouts existed.

Every helper takes text that is already escaped (render.escape): colour codes are added after
escaping, so the only escape sequences that reach a terminal are the ones painted here, and
visible widths never count them. Wrapping never breaks a word (a path, an address, a rule id,
a command-line option): a word longer than the width is left whole on a line of its own. A line
of a fix that is a shell command (`wrap_hint`) is never broken like prose: it stays whole when it
fits, else it is continued with ` \\` at spaces outside quotes, so that it still pastes as one command.
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


# The programs a fix's command line starts with; any other line of a fix is prose (`(to keep it ...)`).
SHELL_PROGRAMS = frozenset(
    {
        "bridge", "devlink", "dmesg", "driverctl", "echo", "ethtool", "grep", "ip", "lspci", "modprobe",
        "pcie-failover", "rmmod", "setpci", "sudo", "systemctl", "udevadm", "virsh",
    }
)  # fmt: skip


def is_shell_command(line: str) -> bool:
    """Whether a line of a fix is a command to paste (it starts with one of SHELL_PROGRAMS)."""
    return line.split(" ", 1)[0] in SHELL_PROGRAMS


def shell_words(command: str) -> list[str]:
    """`command` cut at the spaces where a backslash-newline keeps its meaning: outside single and double quotes,
    and outside a `<placeholder>`."""
    words, start, single, double = [], 0, False, False
    for index, char in enumerate(command):
        if char == "'" and not double:
            single = not single
        elif char == '"' and not single:
            double = not double
        elif char == " " and not single and not double:
            words.append(command[start:index])
            start = index + 1
    joined: list[str] = []
    for word in (word for word in [*words, command[start:]] if word):
        if joined and joined[-1].startswith("<") and not joined[-1].endswith(">") and len(joined[-1]) > 1:
            joined[-1] += " " + word  # a placeholder (`<standby MAC>`) is one word, to be replaced whole
        else:
            joined.append(word)
    return joined


def wrap_command(command: str, width: int | None, first: str = "", rest: str = "") -> list[str]:
    """A shell command line: whole after `first` when it fits (or without a width); else cut at `shell_words`,
    every line but the last ending in ` \\`, the continuations after `rest` and two more spaces. A word
    wider than the line is left whole (the line overflows): a command is never broken inside a word."""
    if width is None or visible_len(first + command) <= width:
        return [first + command]
    words = shell_words(command)
    if not words:
        return [first.rstrip()]
    lines: list[str] = []
    current, more = first + words[0], rest + "  "
    for index, word in enumerate(words[1:], 2):
        room = width - (0 if index == len(words) else 2)  # ` \` after every line but the last
        if visible_len(current) + 1 + len(word) <= room:
            current += " " + word
        else:
            lines.append(current + " \\")
            current = more + word
    return [*lines, current]


_ASIDE = re.compile(r"\((?P<prose>[^()]*:) (?P<command>[^()]+)\)")


def is_aside(part: str) -> bool:
    """Whether a line of a fix is prose in parentheses that ends in a shell command."""
    aside = _ASIDE.fullmatch(part)
    return aside is not None and is_shell_command(aside["command"])


def wrap_part(part: str, width: int | None, first: str = "", rest: str = "") -> list[str]:
    """One line of a fix: a shell command by `wrap_command`; an aside that ends in one, `(to keep it across
    reboots: driverctl set-override ...)`, as its prose, then the command on lines of its own (never cut inside
    a word, continued with ` \\`); other prose by `wrap`."""
    if is_shell_command(part):
        return wrap_command(part, width, first, rest)
    aside = _ASIDE.fullmatch(part)
    if aside is not None and is_shell_command(aside["command"]) and not fits(first + part, width):
        return [
            *wrap(f"({aside['prose']}", width, first, rest),
            *wrap_command(f"{aside['command']})", width, rest, rest),
        ]
    return wrap(part, width, first, rest)


def wrap_hint(text: str, width: int | None, first: str = "", rest: str = "") -> list[str]:
    """A fix, its own line breaks kept as `wrap_paragraphs` does; each line by `wrap_part`."""
    return [
        line
        for index, paragraph in enumerate(text.split("\n"))
        for line in wrap_part(paragraph, width, first if index == 0 else rest, rest)
    ]


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
    commands: frozenset[int] = frozenset(),
) -> list[list[str]] | None:
    """`rows` with the columns in `wrapped` (column -> widest it may be, or None) re-wrapped so that a table of
    them is at most `width` wide; None when that would leave a wrapped column narrower than 20 columns.

    The other columns keep their widths; the room left (minus two columns between columns) is shared among
    the wrapped ones, a column that needs less than its share giving the rest to the others. A cell's own
    lines stay lines; their continuations are indented by two. In the `commands` columns (fixes), a line
    that is a shell command is continued with ` \\` instead (`wrap_command`).
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

    def rewrap(cell: str, column: int) -> str:
        def lines(part: str) -> list[str]:
            if column in commands:
                return wrap_part(part, shares[column], "", "  ")
            return wrap(part, shares[column], "", "  ")

        return "\n".join(line for part in cell.split("\n") for line in lines(part))

    return [[rewrap(cell, column) if column in shares else cell for column, cell in enumerate(row)] for row in rows]
