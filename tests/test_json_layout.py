"""The JSON documents are laid out byte for byte as json.dumps(indent=2, ensure_ascii=True) lays them out."""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcie_failover.render.json_doc import dump

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


def _dumps(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


@given(st.dictionaries(st.text(max_size=8), _VALUES, max_size=6))
def test_any_document_is_laid_out_as_json_dumps_does(document: dict[str, Any]) -> None:
    assert dump(document) == _dumps(document)


class _Code(IntEnum):
    TWO = 2


def test_odd_values_are_laid_out_or_refused_as_json_dumps_does() -> None:
    for document in (
        {"n": _Code.TWO, "nested": {"": [[], {}, ()], "e\u202e\x1b": "\udc80\u00e9\x7f"}},
        {"keys": {2: "int", None: "none", True: "bool", 1.5: "float"}},
        {"f": [float("nan"), float("inf"), -0.0, 1e300]},
    ):
        assert dump(document) == _dumps(document)
    loop: dict[str, Any] = {}
    loop["self"] = loop
    for bad, error in (({"x": object()}, TypeError), ({"x": {1j: 1}}, TypeError), (loop, ValueError)):
        with pytest.raises(error):
            dump(bad)
