"""The index reads names as the checker does: on every shipped policy, each fact, derived
value and enumeration value the checker resolved in an expression is, in the index, the same
kind of name at the same place; and the built-in functions completion offers are the
checker's."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from policy_engine.check import checked as c
from policy_engine.check import expression_checker
from policy_engine.check.types import EnumType
from policy_engine.lsp.completion import FUNCTIONS
from policy_engine.lsp.documents import Document
from policy_engine.lsp.index import DEFINE, FACT, VALUE
from policy_engine.policy import Policy
from tests.helpers.paths import POLICY_FILES, ROOT

_EXPRESSIONS = tuple(c.CExpr.__args__)  # type: ignore[attr-defined]


def _expressions(value: object) -> Iterator[c.CExpr]:
    """Every checked expression held anywhere in a checked declaration."""
    if isinstance(value, _EXPRESSIONS):
        yield from c.walk(value)  # type: ignore[arg-type]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _expressions(getattr(value, field.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _expressions(item)


@pytest.mark.parametrize("path", POLICY_FILES, ids=[p.name for p in POLICY_FILES])
def test_the_index_resolves_names_as_the_checker(path: object) -> None:
    text = path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    checked = Policy.from_text(text, str(path)).checked
    index = Document(path.as_uri(), text).index  # type: ignore[attr-defined]
    assert index is not None
    used = {(o.span.start, o.span.end): o for o in index.occurrences if not o.declaration}
    defines = {d.name for d in checked.defines}
    compared = 0
    for expr in _expressions((checked.rules, checked.defines, checked.ensures,
                              checked.requires)):
        span = (expr.span.start, expr.span.end)
        written = text[span[0]:span[1]]
        if isinstance(expr, c.FactRef) and written == expr.name:
            occurrence = used.get(span)
            assert occurrence is not None, (expr.name, span)
            assert occurrence.kind == (DEFINE if expr.name in defines else FACT)
            compared += 1
        elif isinstance(expr, c.Const) and isinstance(expr.type, EnumType) and \
                written == expr.value:
            occurrence = used.get(span)
            assert occurrence is not None and occurrence.kind == VALUE, (written, span)
            assert occurrence.owner is not None
            compared += 1
    assert compared > 10  # the comparison did compare


def test_completion_offers_the_checkers_functions() -> None:
    assert set(FUNCTIONS) == set(expression_checker._FUNCTIONS)


def test_every_shipped_policy_is_walked() -> None:
    assert ROOT / "policies" / "aliexpress" / "refund.policy" in POLICY_FILES
