"""Schema: the JSON Schema (draft 2020-12) that a fact set of a policy obeys, from its declarations.

`policy schema` prints it; the full validation checks fact sets against it, so every problem
carries a JSON path; tools can generate forms and clients from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from policy_engine.check.checked import FactInfo
from policy_engine.check.types import (
    AmountType,
    BoolType,
    DateType,
    EnumType,
    ListType,
    TextType,
    Type,
    WholeType,
    to_json_value,
)
from policy_engine.facts.forms import AMOUNT_PATTERN, DATE_PATTERN

_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def fact_schema(facts: Sequence[FactInfo], *, title: str | None = None) -> dict[str, Any]:
    """Builds the JSON Schema (draft 2020-12) that a fact set for these declarations obeys.

    No fact may be null: a fact that is not given is left out (E314 otherwise).

    Args:
        facts: the declared facts, in declaration order.
        title: an optional schema title, usually the policy's name.

    Returns:
        A JSON-serialisable schema; the same declarations always give the same schema.
    """
    schema: dict[str, Any] = {"$schema": _SCHEMA_DIALECT}
    if title is not None:
        schema["title"] = title
    properties: dict[str, Any] = {}
    for info in facts:
        prop = _type_schema(info.type)
        if info.description:
            prop["description"] = info.description
        if info.default is not None:
            prop["default"] = to_json_value(info.default)
        properties[info.name] = prop
    schema["type"] = "object"
    schema["properties"] = properties
    schema["required"] = [info.name for info in facts if info.required]
    schema["additionalProperties"] = False
    return schema


def _type_schema(t: Type) -> dict[str, Any]:
    if isinstance(t, BoolType):
        return {"type": "boolean"}
    if isinstance(t, WholeType):
        result: dict[str, Any] = {"type": "integer"}
        if t.minimum is not None:
            result["minimum"] = t.minimum
        if t.maximum is not None:
            result["maximum"] = t.maximum
        return result
    if isinstance(t, AmountType):
        # `minimum` and `maximum` apply to numbers only and `pattern` to strings only; the
        # conversion step checks the bounds exactly for both forms.
        result = {"type": ["number", "string"], "pattern": AMOUNT_PATTERN}
        if t.minimum is not None:
            result["minimum"] = _json_number(t.minimum)
        if t.maximum is not None:
            result["maximum"] = _json_number(t.maximum)
        return result
    if isinstance(t, TextType):
        return {"type": "string"}
    if isinstance(t, DateType):
        return {"type": "string", "format": "date", "pattern": DATE_PATTERN}
    if isinstance(t, EnumType):
        return {"type": "string", "enum": list(t.values)}
    if isinstance(t, ListType):
        return {"type": "array", "items": _type_schema(t.element)}
    return {"type": "array", "maxItems": 0}


def _json_number(number: Decimal) -> int | float:
    # JSON has no decimals; an integral bound stays exact, others are as close as JSON allows.
    return int(number) if number == number.to_integral_value() else float(number)
