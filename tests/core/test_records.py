"""Records answer exactly as the frozen dataclasses they replace (core/records.py)."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from policy_engine.core.records import record


@record(slots=True)
class Point:
    x: int
    label: str = "here"
    note: object = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PointDataclass:
    x: int
    label: str = "here"
    note: object = field(default=None, compare=False, repr=False)


@record
class Single:
    value: Decimal


@dataclass(frozen=True)
class SingleDataclass:
    value: Decimal


@record
class Empty:
    pass


@dataclass(frozen=True)
class EmptyDataclass:
    pass


@pytest.mark.parametrize(("made", "reference", "args"), [
    (Point, PointDataclass, (3, "a", [1])),
    (Point, PointDataclass, (0,)),
    (Single, SingleDataclass, (Decimal("1.50"),)),
    (Empty, EmptyDataclass, ()),
])
def test_a_record_answers_as_the_frozen_dataclass(made: type, reference: type,
                                                  args: tuple[object, ...]) -> None:
    one, same, theirs = made(*args), made(*args), reference(*args)
    assert repr(one) == repr(theirs).replace(reference.__qualname__, made.__qualname__)
    assert one == same and not one != same
    assert hash(one) == hash(same) == hash(theirs)
    assert one != theirs  # another class is never equal, as for dataclasses
    assert [f.name for f in dataclasses.fields(one)] == [
        f.name for f in dataclasses.fields(theirs)]
    assert dataclasses.asdict(one) == dataclasses.asdict(theirs)
    assert pickle.loads(pickle.dumps(one)) == one
    if dataclasses.fields(one):
        name = dataclasses.fields(one)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(one, name, 1)


def test_fields_left_out_of_comparison_are_left_out_of_equality_and_hash() -> None:
    assert Point(1, "a", note="one") == Point(1, "a", note="other")
    assert hash(Point(1, "a", note="one")) == hash(Point(1, "a", note="other"))
    assert Point(1, "a") != Point(2, "a")
    assert dataclasses.replace(Point(1), x=2) == Point(2)
    assert not hasattr(Point(1), "__dict__")  # slots, as asked


def test_a_class_that_writes_its_own_comparison_is_refused() -> None:
    with pytest.raises(TypeError, match="defines __eq__"):
        @record
        class Own:
            x: int

            def __eq__(self, other: object) -> bool:
                return True


def test_the_classes_of_a_checked_policy_are_records() -> None:
    # Every `policy eval` imports them to unpickle its policy (issue 20): none may compile
    # any of its methods, as `@dataclass` does.
    from policy_engine.check import checked, types
    from policy_engine.core import diagnostics, source

    classes = [value for module in (checked, types, source, diagnostics)
               for value in vars(module).values()
               if dataclasses.is_dataclass(value) and value.__module__ == module.__name__]
    compiled = [cls.__name__ for cls in classes
                for method in ("__init__", "__eq__", "__setattr__", "__lt__")
                if getattr(getattr(cls, method), "__code__", None) is not None
                and getattr(cls, method).__code__.co_filename == "<string>"]
    assert len(classes) >= 45
    assert compiled == []


@record(slots=True, order=True)
class Ordered:
    count: int
    label: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True, order=True)
class OrderedDataclass:
    count: int
    label: str = field(default="", compare=False)


def test_an_ordered_record_orders_as_the_dataclass() -> None:
    pairs = [(Ordered(a), Ordered(b), OrderedDataclass(a), OrderedDataclass(b))
             for a in (1, 2) for b in (1, 2)]
    for one, other, theirs, their_other in pairs:
        assert (one < other, one <= other, one > other, one >= other) == (
            theirs < their_other, theirs <= their_other, theirs > their_other,
            theirs >= their_other)
    assert sorted([Ordered(3, "c"), Ordered(1, "a")]) == [Ordered(1), Ordered(3)]
    with pytest.raises(TypeError):
        assert Ordered(1) < OrderedDataclass(2)  # type: ignore[operator]


@record
class WithPostInit:
    text: str
    length: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "length", len(self.text))


@dataclass(frozen=True)
class WithPostInitDataclass:
    text: str
    length: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "length", len(self.text))


@record
class WithFactory:  # not templated: made by `dataclasses`, and still a record
    items: list[int] = field(default_factory=list)


@record(slots=True)
class NamedSelf:
    self: int
    other: int = 2


@pytest.mark.parametrize(("made", "reference"), [
    (Point, PointDataclass), (Single, SingleDataclass), (Empty, EmptyDataclass),
    (Ordered, OrderedDataclass), (WithPostInit, WithPostInitDataclass)])
def test_a_record_is_described_and_called_as_the_dataclass(made: type,
                                                           reference: type) -> None:
    # The same docstring (`dataclasses` writes one from the signature), signature, and the
    # same errors for wrong arguments; frozen in its parameters, as it is.
    import inspect

    assert made.__doc__ == reference.__doc__.replace(reference.__name__, made.__name__)
    assert inspect.signature(made) == inspect.signature(reference)
    assert made.__dataclass_params__.frozen and made.__dataclass_params__.init
    assert made.__init__.__qualname__ == f"{made.__qualname__}.__init__"
    for wrong in [(1, 2, 3, 4), ()] if dataclasses.fields(made) else [(1,)]:
        assert _refusal(made, wrong) == _refusal(reference, wrong)


def _refusal(cls: type, arguments: tuple[object, ...]) -> str:
    with pytest.raises(TypeError) as refused:
        cls(*arguments)
    return str(refused.value).replace(cls.__qualname__, "")


def test_post_init_fields_left_out_defaults_factories_and_odd_names_work() -> None:
    one = WithPostInit("abc")
    assert (one.length, repr(one)) == (3, "WithPostInit(text='abc', length=3)")
    assert pickle.loads(pickle.dumps(one)) == one
    assert WithFactory().items == [] and WithFactory().items is not WithFactory().items
    assert WithFactory([1]) == WithFactory([1])
    named = NamedSelf(1)
    assert (named.self, named.other) == (1, 2) and NamedSelf(self=1, other=3).other == 3
    assert pickle.loads(pickle.dumps(named)) == named
    with pytest.raises(dataclasses.FrozenInstanceError):
        del named.other
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.text = "x"  # type: ignore[misc]


def test_a_misplaced_default_is_refused_as_dataclasses_refuses_it() -> None:
    with pytest.raises(TypeError, match="non-default argument 'y' follows default"):
        @record
        class Misplaced:
            x: int = 0
            y: int  # type: ignore[misc]
