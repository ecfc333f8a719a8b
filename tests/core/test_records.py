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
    # its comparison and text, as `@dataclass` does.
    from policy_engine.check import checked, types
    from policy_engine.core import diagnostics, source

    classes = [value for module in (checked, types, source, diagnostics)
               for value in vars(module).values()
               if dataclasses.is_dataclass(value) and value.__module__ == module.__name__]
    compiled = [cls.__name__ for cls in classes
                if cls.__eq__.__code__.co_filename == "<string>"]
    assert len(classes) >= 45
    assert compiled == ["CalendarMonths"]  # ordered: `record` does not make `__lt__`
