"""`@record`: `@dataclass(frozen=True)` with less start-up cost, for the records on the check path.

A dataclass compiles each method it generates from source when its class is created: about
0.45 ms for a frozen one, 0.7 ms with `order=True`, and `check` creates some forty of them before
it reads anything. A record is a real frozen dataclass (`fields()`, `replace()`, `asdict()`, match
arguments, a generated `__init__`, assignment refused with FrozenInstanceError), whose `__eq__`,
`__hash__`, `__repr__` and, with `order`, comparisons are shared functions that do what the
generated ones do: compare the compared fields as tuples when both sides are of the same class
(else NotImplemented), hash the hashed fields as a tuple, show `Name(field=value!r, ...)`.
What differs: `__dataclass_params__` says eq=False, repr=False, order=False.
"""

from __future__ import annotations

import dataclasses
import operator
import reprlib
from collections.abc import Callable
from dataclasses import field
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The fields `names` of an instance, as a tuple (of one too, as the generated methods compare)."""
    if len(names) == 1:
        (name,) = names
        return lambda self: (getattr(self, name),)
    if not names:
        return lambda _: ()
    get: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*names)
    return get


def _comparison(key: Callable[[Any], tuple[Any, ...]], compare: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def method(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return compare(key(self), key(other))
        return NotImplemented

    return method


def _shared_methods(cls: type[Any], order: bool) -> dict[str, Callable[..., Any]]:
    fields = dataclasses.fields(cls)
    compared = _key(tuple(f.name for f in fields if f.compare))
    hashed = _key(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))
    shown = tuple(f.name for f in fields if f.repr)

    def __eq__(self: Any, other: Any) -> Any:  # noqa: N807 (installed as the class's)
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    def __hash__(self: Any) -> int:  # noqa: N807
        return hash(hashed(self))

    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:  # noqa: N807
        return f"{self.__class__.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"

    methods: dict[str, Callable[..., Any]] = {
        "__eq__": __eq__,
        "__hash__": __hash__,
        "__repr__": __repr__,
    }
    if order:
        methods |= {
            "__lt__": _comparison(compared, operator.lt),
            "__le__": _comparison(compared, operator.le),
            "__gt__": _comparison(compared, operator.gt),
            "__ge__": _comparison(compared, operator.ge),
        }
    return methods


@overload
def record(cls: type[T], /) -> type[T]: ...
@overload
def record(*, order: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T] | None = None, /, *, order: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    """Make `cls` a frozen dataclass (with `order`, ordered), as `@dataclass(frozen=True)` would."""

    def wrap(cls: type[T]) -> type[T]:
        made = dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)  # __init__, frozen assignment
        for name, method in _shared_methods(made, order).items():
            method.__qualname__ = f"{made.__qualname__}.{name}"
            setattr(made, name, method)
        return made

    return wrap if cls is None else wrap(cls)
