"""JSON from untrusted files with bounded nesting and number size, so bad input is an error, not a crash.

`json.loads` recurses once per nesting level (deep input raises RecursionError) and turns
a 5000-digit integer into a ValueError from int() (Python's int_max_str_digits), and a
huge one into seconds of CPU below that limit. Both are refused here before or while parsing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

MAX_DEPTH = 64
MAX_NUMBER_CHARS = 40  # a 128-bit integer has 39 digits

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class JsonRejectedError(ValueError):
    """The text is not JSON this tool accepts; the message says why, in one line."""


def _depth(text: str) -> int:
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


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
    depth = _depth(text)
    if depth > max_depth:
        raise JsonRejectedError(f"nested {depth} levels deep (at most {max_depth})")
    try:
        return json.loads(text, parse_int=_INT, parse_float=_FLOAT, parse_constant=_constant)
    except JsonRejectedError:
        raise
    except (ValueError, RecursionError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise JsonRejectedError(f"not valid JSON ({first_line})") from None
