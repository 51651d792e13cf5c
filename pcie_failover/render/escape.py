"""The one escaping of text for terminals, journal lines and metric labels: pure, str -> str.

Names that reach reports come from places a user does not control (directory names in
a copied tree, registry files, exception messages). A control character there could
move the cursor, forge a second journal line (`\\n<0>...`) or break a table, so every
character that is not printable (C0 and C1 controls, DEL, line and paragraph
separators, bidirectional overrides, ...) is shown as a Python-style escape instead:
ESC as `\\x1b`, newline as `\\x0a`, U+202E as `\\u202e`. Printable text is unchanged.
"""

from __future__ import annotations


def _escaped(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape(text: str) -> str:
    """`text` with every non-printable character written as `\\xNN`, `\\uNNNN` or `\\UNNNNNNNN`."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def escape_lines(text: str) -> str:
    """`text` escaped line by line: its own line breaks kept (multi-line hints), every other control escaped."""
    return "\n".join(escape(line) for line in text.split("\n"))
