"""model.bounded_json: what untrusted JSON is refused, in one line, and in time linear in its size."""

from __future__ import annotations

import pytest

from pcie_failover.model.bounded_json import JsonRejectedError, loads


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 65 + "]" * 65, "nested more than 64 levels deep"),
        ('{"a":' * 65 + "1" + "}" * 65, "nested more than 64 levels deep"),
        ("[" * 200_000 + "]" * 200_000, "nested more than 64 levels deep"),  # past Python's recursion limit
        ("1" * 41, "a number of 41 characters (at most 40)"),
        ("[NaN]", "NaN is not JSON"),
        ("-Infinity", "-Infinity is not JSON"),
        ("[1,", "not valid JSON (Expecting value: line 1 column 4 (char 3))"),
    ],
)
def test_refused_with_one_line(text: str, reason: str) -> None:
    with pytest.raises(JsonRejectedError) as refused:
        loads(text)
    assert str(refused.value) == reason


def test_the_deepest_accepted_value_parses() -> None:
    value = loads("[" * 64 + "]" * 64)
    for _ in range(63):
        assert isinstance(value, list)
        (value,) = value
    assert value == []
    assert loads(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(JsonRejectedError, match=r"^not UTF-8 text$"):
        loads(b"\xff")


def test_an_unterminated_string_of_escaped_quotes_is_refused_at_once() -> None:
    """The red team's input: a regular-expression prescan took 88 s at 128 KiB (quadratic); 4 MiB here."""
    with pytest.raises(JsonRejectedError, match=r"^not valid JSON \(Unterminated string starting at"):
        loads('"' + '\\"' * (2 << 20))
