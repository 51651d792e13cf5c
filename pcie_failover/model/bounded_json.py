"""JSON from untrusted files with bounded nesting and number size, so bad input is an error, not a crash.

`json.loads` recurses once per nesting level (deep input raises RecursionError) and turns
a 5000-digit integer into a ValueError from int() (Python's int_max_str_digits), and a
huge one into seconds of CPU below that limit. Numbers are refused while parsing; nesting
is measured on the parsed value with an explicit stack. Both steps are linear in the input
(a regular-expression prescan was not: an unterminated string of escaped quotes made it
quadratic).
"""

from __future__ import annotations

import json
from collections.abc import Callable

MAX_DEPTH = 64
MAX_NUMBER_CHARS = 40  # a 128-bit integer has 39 digits


class JsonRejectedError(ValueError):
    """The text is not JSON this tool accepts; the message says why, in one line."""


def _deeper_than(value: object, limit: int) -> bool:
    """Whether containers in `value` nest more than `limit` levels (level by level: no recursion)."""
    level = [value]
    for depth in range(1, limit + 2):
        below: list[object] = []
        for item in level:
            if isinstance(item, dict):
                below.extend(item.values())
            elif isinstance(item, list):
                below.extend(item)
            else:
                continue
            if depth > limit:
                return True
        if not below:
            return False
        level = below
    return False


def _number(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(literal: str) -> int | float:
        if len(literal) > MAX_NUMBER_CHARS:
            raise JsonRejectedError(f"a number of {len(literal)} characters (at most {MAX_NUMBER_CHARS})")
        return kind(literal)

    return parse


_INT = _number(int)
_FLOAT = _number(float)


def _constant(name: str) -> float:
    raise JsonRejectedError(f"{name} is not JSON")


def loads(data: str | bytes, max_depth: int = MAX_DEPTH) -> object:
    """Parse `data`; JsonRejectedError (a ValueError) for invalid JSON, nesting past `max_depth` or long numbers."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise JsonRejectedError("not UTF-8 text") from None
    try:
        value = json.loads(text, parse_int=_INT, parse_float=_FLOAT, parse_constant=_constant)
    except JsonRejectedError:
        raise
    except RecursionError:
        raise JsonRejectedError(f"nested more than {max_depth} levels deep") from None
    except ValueError as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise JsonRejectedError(f"not valid JSON ({first_line})") from None
    if _deeper_than(value, max_depth):
        raise JsonRejectedError(f"nested more than {max_depth} levels deep")
    return value
