"""Records: frozen dataclasses defined without compiling any code, for the classes that every
`policy eval` imports (the checked policy, its types, sources and diagnostics).

`@dataclass` in Python 3.11 writes and compiles six functions for a frozen class (`__init__`,
`__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`) and builds its docstring with
`inspect.signature`: about 2 ms a class, and with some fifty such classes, defining them was
most of what importing the engine cost `policy eval` (issue 20). `record` lets `dataclasses`
collect the fields (and make the slots) but write nothing, then gives the class:

- an `__init__` made from a template compiled once per number of fields: the template's code
  object is copied with the class's field names (`CodeType.replace`), so a class of three
  fields gets a function exactly like `dataclasses` would write, as fast, without a compile;
- `__setattr__` and `__delattr__` that refuse every change (`FrozenInstanceError`);
- `__repr__`, `__eq__` and `__hash__` made from its fields, answering exactly as the
  generated ones: the same text, equal when the class and the compared fields are equal, the
  hash of the same tuple (so sets and dicts hold them in the same order);
- the docstring `dataclasses` would give it, and, with slots, its pickling methods.

A record is a dataclass: `dataclasses.fields`, `replace`, `asdict` and `is_dataclass` work on
it, and its `__dataclass_params__` say frozen. A class using what the templates do not cover
(default factories, keyword-only fields, `InitVar` or `ClassVar` pseudo-fields, a field left
out of `__init__` with a default, inherited fields) is made by `dataclasses` as before.
"""

from __future__ import annotations

import ast
import dataclasses
import operator
import sys
from collections.abc import Callable
from types import CodeType, FunctionType
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")
_MADE = ("__repr__", "__eq__", "__hash__")
_ORDERING = ("__lt__", "__le__", "__gt__", "__ge__")


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(*, slots: bool = False, order: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: type[T] | None = None, /, *, slots: bool = False,
           order: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    """`@dataclass(frozen=True)` (with `slots` and `order` as given), defined without
    compiling code; the class must not define the methods `record` makes."""

    def make(cls: type[T]) -> type[T]:
        written = [name for name in _MADE + (_ORDERING if order else ())
                   if name in cls.__dict__]
        if written:
            raise TypeError(f"{cls.__name__} defines {', '.join(written)}: use @dataclass")
        if not _templated(cls):
            made: Any = dataclasses.dataclass(cls, frozen=True, slots=slots, repr=False,
                                              eq=False)
        else:
            if cls.__doc__ is None:  # what `dataclasses` writes, without `inspect.signature`
                cls.__doc__ = _signature_text(cls)
            made = dataclasses.dataclass(cls, init=False, repr=False, eq=False, slots=slots)
            _make_frozen(made, slots)
        _add_comparison(made, order)
        return made  # type: ignore[no-any-return]

    return make if cls is None else make(cls)


def _add_comparison(made: Any, order: bool) -> None:
    """Gives a dataclass `__repr__`, `__eq__` and `__hash__` made from its fields (and, with
    `order`, `__lt__`, `__le__`, `__gt__` and `__ge__`, comparing the same tuples)."""
    fields = dataclasses.fields(made)
    shown = tuple(f.name for f in fields if f.repr)
    compared = _key(tuple(f.name for f in fields if f.compare))
    hashed = _key(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))

    def __repr__(self: Any) -> str:
        return (str(self.__class__.__qualname__) + "("
                + ", ".join([f"{name}={getattr(self, name)!r}" for name in shown]) + ")")

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(compared(self) == compared(other))
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(hashed(self))

    _attach(made, __repr__, __eq__, __hash__)
    if order:
        _attach(made, *(_ordering(name, compared) for name in _ORDERING))


def _ordering(name: str, compared: Callable[[Any], tuple[Any, ...]]) -> Callable[..., Any]:
    """The order method `name` (`__lt__`, ...): compares the fields' tuples of two objects of
    the same class, as `@dataclass(order=True)` does."""
    test = getattr(operator, name)

    def method(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return test(compared(self), compared(other))
        return NotImplemented

    method.__name__ = name
    return method


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of the fields `names` of an object, as the generated methods build it."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if names:
        one = operator.attrgetter(names[0])
        return lambda value: (one(value),)
    return lambda value: ()


def _attach(made: type, *methods: Callable[..., Any]) -> None:
    for method in methods:
        method.__qualname__ = f"{made.__qualname__}.{method.__name__}"
        setattr(made, method.__name__, method)


# ---------------------------------------------------------------- which classes are templated


def _templated(cls: type) -> bool:
    """Whether the templates make this class's `__init__` exactly as `dataclasses` would: every
    field plain or with a plain default (defaults last), none keyword-only, no pseudo-field,
    a field left out of `__init__` only without a default, and no inherited fields."""
    if any(hasattr(base, "__dataclass_fields__") for base in cls.__mro__[1:]):
        return False
    defaulted = False
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if not isinstance(annotation, str) or _PSEUDO.intersection(
                annotation.replace("[", " ").replace(".", " ").split()):
            return False
        value = cls.__dict__.get(name, dataclasses.MISSING)
        if isinstance(value, dataclasses.Field):
            if (value.default_factory is not dataclasses.MISSING or value.kw_only is True
                    or (not value.init and value.default is not dataclasses.MISSING)):
                return False
            if not value.init:
                continue
            value = value.default
        if value is not dataclasses.MISSING:
            defaulted = True
        elif defaulted:
            return False  # `dataclasses` says what is wrong
    return True


#: Annotations that make a pseudo-field or change how the following fields are taken.
_PSEUDO = frozenset({"ClassVar", "InitVar", "KW_ONLY"})


def _signature_text(cls: type) -> str:
    """The docstring `dataclasses` gives a class without one: its name and `__init__`'s
    parameters, as `inspect.signature` shows them (annotations are the source's strings)."""
    parameters = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        value = cls.__dict__.get(name, dataclasses.MISSING)
        if isinstance(value, dataclasses.Field):
            if not value.init:
                continue
            value = value.default
        text = f"{name}: {annotation!r}"
        parameters.append(text if value is dataclasses.MISSING else f"{text} = {value!r}")
    return f"{cls.__name__}({', '.join(parameters)})"


# ---------------------------------------------------------------- frozen, without compiling


def _make_frozen(made: Any, slots: bool) -> None:
    """Gives a dataclass made with `init=False` and `frozen=False` the `__init__`,
    `__setattr__` and `__delattr__` of a frozen one (and, slotted, its pickling methods)."""
    fields = dataclasses.fields(made)
    names = frozenset(f.name for f in fields)
    taken = tuple(f for f in fields if f.init)
    defaults = tuple(f.default for f in taken if f.default is not dataclasses.MISSING)
    post_init = hasattr(made, "__post_init__")
    code = _template(len(taken), post_init)
    argument_names = tuple(f.name for f in taken)
    placeholders = {f"<{index}>": name for index, name in enumerate(argument_names)}
    code = code.replace(
        co_varnames=("__record_self__" if "self" in names else "self", *argument_names),
        co_consts=tuple(placeholders.get(value, value) if isinstance(value, str) else value
                        for value in code.co_consts),
        co_name="__init__", co_filename=f"<record {made.__module__}.{made.__qualname__}>")
    if sys.version_info >= (3, 11):  # tracebacks name the class
        code = code.replace(co_qualname=f"{made.__qualname__}.__init__")
    made.__init__ = FunctionType(code, _INIT_GLOBALS, "__init__", defaults or None)
    made.__init__.__qualname__ = f"{made.__qualname__}.__init__"
    made.__init__.__module__ = made.__module__
    made.__init__.__annotations__ = {**{f.name: f.type for f in taken}, "return": None}

    def __setattr__(self: Any, name: str, value: object) -> None:
        if self.__class__ is made or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(made, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if self.__class__ is made or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(made, self).__delattr__(name)

    _attach(made, __setattr__, __delattr__)
    if slots:
        every = tuple(f.name for f in fields)

        def __getstate__(self: Any) -> list[Any]:
            return [getattr(self, name) for name in every]

        def __setstate__(self: Any, state: list[Any]) -> None:
            for name, value in zip(every, state, strict=True):
                object.__setattr__(self, name, value)

        for method in (__getstate__, __setstate__):
            if method.__name__ not in made.__dict__:
                _attach(made, method)
    params = made.__dataclass_params__
    params.init = params.frozen = True  # what it is: a frozen dataclass with an `__init__`


#: The one global the templates read: how a frozen object's `__init__` sets its fields.
_INIT_GLOBALS: dict[str, Any] = {"__record_set__": object.__setattr__}
_TEMPLATES: dict[tuple[int, bool], CodeType] = {}


def _template(count: int, post_init: bool) -> CodeType:
    """The code of an `__init__` taking `count` fields (named `_0`, `_1`, ... and stored under
    the names `<0>`, `<1>`, ...), compiled once for every class of that many fields; it calls
    `__post_init__` at the end when asked, as a dataclass's does."""
    key = (count, post_init)
    if key not in _TEMPLATES:
        # Built from syntax-tree nodes, as all generated code is (`ast` is imported anyway:
        # `dataclasses` imports `inspect`, which imports it).
        def name(text: str) -> ast.Name:
            return ast.Name(text, ast.Load())

        body: list[ast.stmt] = [
            ast.Expr(ast.Call(name("__record_set__"),
                              [name("self"), ast.Constant(f"<{index}>"), name(f"_{index}")], []))
            for index in range(count)]
        body.append(ast.Expr(ast.Call(ast.Attribute(name("self"), "__post_init__", ast.Load()),
                                      [], []))
                    if post_init else ast.Pass())
        arguments = ast.arguments(posonlyargs=[], args=[ast.arg("self")]
                                  + [ast.arg(f"_{index}") for index in range(count)],
                                  kwonlyargs=[], kw_defaults=[], defaults=[])
        function = ast.FunctionDef("__init__", arguments, body, decorator_list=[])
        module = ast.fix_missing_locations(ast.Module([function], type_ignores=[]))
        scope: dict[str, Any] = {}
        code = compile(module, "<record template>", "exec")
        exec(code, scope)  # noqa: S102  # generated-code: built from ast nodes and constants only
        _TEMPLATES[key] = scope["__init__"].__code__
    return _TEMPLATES[key]
