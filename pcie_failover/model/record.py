"""`@record`: `@dataclass(frozen=True)` with less start-up cost, for the records on the check path.

A dataclass compiles each method it generates from source when its class is created: about
0.45 ms for a frozen one, 0.7 ms with `order=True`, and `check` creates some forty of them before
it reads anything. A record is a real frozen dataclass (`fields()`, `replace()`, `asdict()`, match
arguments, dataclasses' frozen `__init__`, assignment and deletion refused with
FrozenInstanceError) of which nothing is compiled when its class is created. `__eq__`, `__hash__`,
`__repr__`, `__setattr__`, `__delattr__` and, with `order`, the comparisons are shared functions
that do what the generated ones do: compare the compared fields as tuples when both sides are of
the same class (else NotImplemented), hash the hashed fields as a tuple, show
`Name(field=value!r, ...)`, refuse to assign or delete a field (any attribute of the class itself).
`__init__` is shared too (it binds a call as the compiled one would) until the class's 32nd
instance or a call it cannot bind; then the compiled one takes over (`list` makes thousands).
What differs: `__dataclass_params__` says eq=False, repr=False, order=False, and before the
compiled `__init__` takes over, `inspect.signature()` shows `(*args, **kwargs)`.
"""

from __future__ import annotations

import dataclasses
import operator
import reprlib
from collections.abc import Callable
from dataclasses import field
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")
_COMPILE_AFTER = 32  # instances a record's shared __init__ makes before its own is compiled (list makes thousands)


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
    names = frozenset(f.name for f in fields)
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

    def __setattr__(self: Any, name: str, value: Any) -> None:  # noqa: N807
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:  # noqa: N807
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    methods: dict[str, Callable[..., Any]] = {
        "__eq__": __eq__,
        "__hash__": __hash__,
        "__repr__": __repr__,
        "__setattr__": __setattr__,
        "__delattr__": __delattr__,
    }
    if order:
        methods |= {
            "__lt__": _comparison(compared, operator.lt),
            "__le__": _comparison(compared, operator.le),
            "__gt__": _comparison(compared, operator.gt),
            "__ge__": _comparison(compared, operator.ge),
        }
    return methods


def _own_annotations(cls: type[Any]) -> dict[str, Any]:
    """The class's own annotations, as dataclasses reads them (inspect is not imported for this)."""
    annotations: dict[str, Any] = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    return annotations


def _plain_fields(cls: type[Any]) -> tuple[dataclasses.Field[Any], ...] | None:
    """The fields of `cls` when they are plain: with or without a default, keyword-only or not; else None."""
    fields = dataclasses.fields(cls)
    if (
        len(cls.__dict__["__dataclass_fields__"]) != len(fields)
        or hasattr(cls, "__post_init__")
        or any(
            not f.init or f.default_factory is not dataclasses.MISSING or f.name.startswith("__") or f.name == "self"
            for f in fields
        )
    ):
        return None
    return fields


def _plain_init(cls: type[Any]) -> Callable[..., None] | None:
    """The frozen `__init__` dataclasses generates, for fields with or without a default, keyword-only or not.

    The same function as dataclasses' (each field set with object.__setattr__, in order; the same
    parameters, defaults, and annotations: the fields' types, None returned), compiled alone from
    its parameter names and body (defaults and annotations are set on it after): dataclasses would
    also compile a `__setattr__` and a `__delattr__` that a record does not use. None for anything
    else (a default factory, a field not in `__init__`, InitVar or ClassVar pseudo-fields,
    `__post_init__`, defaults out of order).
    """
    fields = _plain_fields(cls)
    if fields is None:
        return None
    ordered = [f for f in fields if not f.kw_only] + [f for f in fields if f.kw_only]
    keyword = next((i for i, f in enumerate(ordered) if f.kw_only), len(ordered))
    params = [f"{f.name}=None" if f.default is not dataclasses.MISSING else f.name for f in ordered]
    params[keyword:keyword] = ["*"] if keyword < len(ordered) else []
    body = "".join(f" __set(self,{f.name!r},{f.name})\n" for f in fields) or " pass\n"
    try:
        code = compile(f"def __init__(self, {', '.join(params)}):\n{body}", f"<record {cls.__qualname__}>", "exec")
    except SyntaxError:  # a field without a default after one with: dataclasses says so
        return None
    namespace: dict[str, Any] = {"__set": object.__setattr__, "__name__": cls.__module__}
    exec(code, namespace)  # as dataclasses does, from field names
    init: Callable[..., None] = namespace["__init__"]
    init.__defaults__ = tuple(f.default for f in ordered[:keyword] if f.default is not dataclasses.MISSING) or None
    init.__kwdefaults__ = {f.name: f.default for f in ordered[keyword:] if f.default is not dataclasses.MISSING} or None
    init.__annotations__ = {**{f.name: f.type for f in ordered}, "return": None}
    return init


def _generated_init(cls: type[Any], declared: dict[str, Any]) -> Callable[..., None]:
    """The `__init__` @dataclass(frozen=True) generates for `cls`, from its fields as declared (`declared`)."""
    init = _plain_init(cls)
    if init is None:  # dataclasses itself, on a twin class with the fields as declared
        namespace = {
            "__annotations__": _own_annotations(cls),
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
            **declared,
        }
        if hasattr(cls, "__post_init__"):
            namespace["__post_init__"] = cls.__post_init__
        twin: type[Any] = type(cls.__name__, (), namespace)
        init = dataclasses.dataclass(frozen=True, eq=False, repr=False, match_args=False)(twin).__init__
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _shared_init(fields: tuple[dataclasses.Field[Any], ...], compiled: Callable[..., None]) -> Any:
    """Until the class's `_COMPILE_AFTER`th instance, an `__init__` that binds as its compiled one would.

    Positional arguments, then keywords, then defaults, each field set with object.__setattr__ in the
    order declared: what the compiled `__init__` does with a call it accepts. A call it cannot bind
    (or the instance after `_COMPILE_AFTER`) goes to `compiled`, which installs the compiled one: its
    TypeError is dataclasses' own. `check` makes most records a few times: none is compiled.
    """
    positional = tuple(f.name for f in fields if not f.kw_only)
    names = frozenset(f.name for f in fields)
    defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    order = tuple(f.name for f in fields)
    made = [0]
    assign = object.__setattr__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        made[0] += 1
        if made[0] > _COMPILE_AFTER or len(args) > len(positional):
            return compiled(self, *args, **kwargs)
        values = dict(zip(positional, args, strict=False))  # fewer arguments than positional fields: keywords
        for key, value in kwargs.items():
            if key in values or key not in names:
                return compiled(self, *args, **kwargs)
            values[key] = value
        if len(values) < len(order):
            missing = [name for name in order if name not in values]
            if not all(name in defaults for name in missing):
                return compiled(self, *args, **kwargs)
            values.update((name, defaults[name]) for name in missing)
        for name in order:
            assign(self, name, values[name])
        return None

    return __init__


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class _Params:
    """What records are, as `__dataclass_params__` says (a frozen dataclass whose eq and repr are not generated)."""


_REPLACED = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")
_ORDERED = ("__lt__", "__le__", "__gt__", "__ge__")


def _refuse_what_dataclass_refuses(cls: type[Any], order: bool) -> None:
    """TypeError at class creation for what a record would otherwise replace silently or refuse only later:
    a method of its own that a record installs, inheritance from a dataclass, a required field after a default."""
    own = [name for name in (*_REPLACED, *(_ORDERED if order else ())) if name in cls.__dict__]
    if own:
        raise TypeError(f"record {cls.__qualname__} defines {', '.join(own)}: a record makes its own")
    if any(dataclasses.is_dataclass(base) for base in cls.__mro__[1:]):
        raise TypeError(f"record {cls.__qualname__} inherits from a dataclass: records are not inherited")
    defaulted = None
    for name in _own_annotations(cls):
        value = cls.__dict__.get(name, dataclasses.MISSING)
        kw_only = isinstance(value, dataclasses.Field) and value.kw_only is True
        has_default = value is not dataclasses.MISSING and not (
            isinstance(value, dataclasses.Field)
            and value.default is dataclasses.MISSING
            and value.default_factory is dataclasses.MISSING
        )
        if has_default and not kw_only:
            defaulted = name
        elif defaulted is not None and not kw_only and not has_default:
            raise TypeError(f"non-default argument {name!r} follows default argument {defaulted!r}")


@overload
def record(cls: type[T], /) -> type[T]: ...
@overload
def record(*, order: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T] | None = None, /, *, order: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    """Make `cls` a frozen dataclass (with `order`, ordered), as `@dataclass(frozen=True)` would."""

    def wrap(cls: type[T]) -> type[T]:
        _refuse_what_dataclass_refuses(cls, order)
        declared = {name: cls.__dict__[name] for name in _own_annotations(cls) if name in cls.__dict__}
        made = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)  # fields and match arguments only
        made.__dataclass_params__ = _Params.__dataclass_params__  # type: ignore[attr-defined]
        methods = _shared_methods(made, order)

        def compiled(self: Any, *args: Any, **kwargs: Any) -> None:
            """Compiled when needed: a record no command makes costs nothing to compile."""
            setattr(made, "__init__", _generated_init(made, declared))  # noqa: B010 (mypy: not a method assignment)
            made.__init__(self, *args, **kwargs)

        fields = _plain_fields(made)
        init = compiled if fields is None else _shared_init(fields, compiled)
        for name, method in {**methods, "__init__": init}.items():
            method.__qualname__ = f"{made.__qualname__}.{name}"
            setattr(made, name, method)
        return made

    return wrap if cls is None else wrap(cls)
