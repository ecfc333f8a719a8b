"""Records: frozen dataclasses that cost a third as much to define, for the classes that every
`policy eval` imports (the checked policy and its types).

`@dataclass` in Python 3.11 writes and compiles six functions for a frozen class (`__init__`,
`__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`), about 1 ms a class; with some
fifty such classes, defining them was a quarter of the start-up of `policy eval` (issue 20).
`record` lets `dataclasses` write the three that depend on the fields' order and defaults
(`__init__` and the frozen `__setattr__` and `__delattr__`), and gives the class
`__repr__`, `__eq__` and `__hash__` made from its fields without compiling anything. They
answer exactly as the generated ones: the same text, equal when the class and the compared
fields are equal, and the hash of the same tuple (so sets and dicts hold them in the same
order). A record is a dataclass: `dataclasses.fields`, `replace` and `asdict` work on it.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")
_MADE = ("__repr__", "__eq__", "__hash__")


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(*, slots: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: type[T] | None = None, /, *,
           slots: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    """`@dataclass(frozen=True)` (with `slots` as given), defined without compiling
    `__repr__`, `__eq__` and `__hash__`; the class must not define those itself."""

    def make(cls: type[T]) -> type[T]:
        written = [name for name in _MADE if name in cls.__dict__]
        if written:
            raise TypeError(f"{cls.__name__} defines {', '.join(written)}: use @dataclass")
        made: Any = dataclasses.dataclass(cls, frozen=True, slots=slots, repr=False, eq=False)
        fields = dataclasses.fields(made)
        shown = tuple(f.name for f in fields if f.repr)
        compared = _key(tuple(f.name for f in fields if f.compare))
        hashed = _key(tuple(f.name for f in fields
                            if (f.compare if f.hash is None else f.hash)))

        def __repr__(self: Any) -> str:
            return (str(self.__class__.__qualname__) + "("
                    + ", ".join([f"{name}={getattr(self, name)!r}" for name in shown]) + ")")

        def __eq__(self: Any, other: object) -> bool:
            if other.__class__ is self.__class__:
                return bool(compared(self) == compared(other))
            return NotImplemented

        def __hash__(self: Any) -> int:
            return hash(hashed(self))

        for method in (__repr__, __eq__, __hash__):
            method.__qualname__ = f"{made.__qualname__}.{method.__name__}"
            setattr(made, method.__name__, method)
        return made  # type: ignore[no-any-return]

    return make if cls is None else make(cls)


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of the fields `names` of an object, as the generated methods build it."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if names:
        one = operator.attrgetter(names[0])
        return lambda value: (one(value),)
    return lambda value: ()
