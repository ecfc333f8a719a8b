"""Plain data as diagnostics name it: JSON paths, their order, and the kinds of values."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from policy_engine.core.data import json_path, kind_of, path_key


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((), "$"),
        (("facts",), "$.facts"),
        (("facts", "problems", 0), "$.facts.problems[0]"),
        (("facts", "two words"), '$.facts["two words"]'),
        (("a-b", 3, "x"), '$["a-b"][3].x'),
        (("1st",), '$["1st"]'),
        (('say "hi"',), '$["say \\"hi\\""]'),
        (("_private",), "$._private"),
    ],
)
def test_json_path(path: tuple[str | int, ...], expected: str) -> None:
    assert json_path(path) == expected


def test_paths_sort_indexes_numerically_and_before_keys() -> None:
    paths = [("facts", "b"), ("facts", 10), ("facts", "a"), ("facts", 2), ("facts",)]
    assert sorted(paths, key=path_key) == [
        ("facts",), ("facts", 2), ("facts", 10), ("facts", "a"), ("facts", "b")]


@pytest.mark.parametrize(("value", "yaml_words", "json_words"), [
    ({}, "a mapping", "an object"), ([1], "a list", "an array"), ((1,), "a list", "an array"),
    ("x", "text", "a string"), (True, "yes/no", "true or false"), (3, "a number", "a number"),
    (Decimal("1.5"), "a number", "a number"), (None, "null", "null"),
    (datetime.date(2024, 1, 1), "date", "date"),
])
def test_kinds_of_values_in_yaml_and_json_words(value: object, yaml_words: str,
                                                json_words: str) -> None:
    assert kind_of(value) == yaml_words
    assert kind_of(value, json=True) == json_words
