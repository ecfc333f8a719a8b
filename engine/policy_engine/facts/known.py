"""Known facts: the input stage for a partial fact set, whose missing facts are unknown, not absent.

Partial evaluation (`Policy.residual`) starts from the facts a caller knows so far. Each fact
given is validated exactly as `policy eval` validates it (the same JSON Schema, conversions
and wording: a wrong type, an unknown name or a null where the declaration forbids one is an
error with its JSON path); only "a required fact is missing" (E306) is not an error here,
since a fact not given is simply not known yet. As in `policy eval`, null for an optional fact
without a default means the fact is left out: it is known to be absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policy_engine.check.types import Value
from policy_engine.core.data import JsonPath, Locator
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.facts.conversion import convert_value, plain
from policy_engine.facts.validation import FactStage

#: The code of "required fact is missing", which is no error for a partial fact set.
_MISSING_REQUIRED = "E306"


@dataclass(frozen=True)
class KnownFacts:
    """What a caller knows about a case: typed values, facts known to be absent, the rest unknown.

    Args:
        values: the typed value of each fact given, in declaration order.
        absent: optional facts given as null: known to be left out.
        raw: the facts given, as given (null ones left out), to build whole fact sets from.
        unknown: the declared facts not given, in declaration order. A fact with a default
            that is not given is unknown too: the caller has not said, and its default is only
            one of its values.
    """

    values: Mapping[str, Value]
    absent: frozenset[str]
    raw: Mapping[str, Any]
    unknown: tuple[str, ...]

    @property
    def given(self) -> tuple[str, ...]:
        """The facts given (with a value or as null), in the order of `values` then `absent`."""
        return tuple(self.values) + tuple(sorted(self.absent))

    def is_known(self, name: str) -> bool:
        return name in self.values or name in self.absent


def validate_known(stage: FactStage, data: object, *, file: str = "<facts>",
                   locate: Locator | None = None,
                   prefix: JsonPath = ("facts",)) -> KnownFacts:
    """Validates a partial fact set as the fact stage validates a whole one.

    Raises:
        DiagnosticError: a fact given is invalid (wrong type, out of bounds, unknown name,
            null for a fact that cannot be left out), or `data` is not a mapping; every
            problem has its JSON path.
    """
    try:
        stage.full.validate(data, file=file, locate=locate, prefix=prefix)
    except DiagnosticError as error:
        problems = [d for d in error.diagnostics if d.code != _MISSING_REQUIRED]
        if problems:
            raise DiagnosticError(problems) from None
    assert isinstance(data, Mapping)  # the validator reports anything else (E304)
    values: dict[str, Value] = {}
    absent: set[str] = set()
    raw: dict[str, Any] = {}
    unknown: list[str] = []
    for info in stage.facts:
        if info.name not in data:
            unknown.append(info.name)
            continue
        value = data[info.name]
        if value is None:  # the validator let it through: an optional fact left out
            absent.add(info.name)
            continue
        values[info.name] = convert_value(info.type, plain(value))
        raw[info.name] = value
    return KnownFacts(values, frozenset(absent), raw, tuple(unknown))
