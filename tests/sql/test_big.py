"""Big policies in SQL: the generated policy of thousands of rules is indexed by the
enumeration fact its rules test first (no flat CASE of thousands of branches), and decides
(and explains) every row exactly as the Python engine does. Refusals with --trace are
explained from the query's trail, not handed back to the reference engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from benchmarks.generate import generate_policy, random_facts
from benchmarks.sql_rows import generate, write_jsonl
from policy_engine import Policy
from policy_engine.sql.indexing import LEAF
from policy_engine.sql.query import compile_query
from tests.helpers.examples import examples
from tests.sql.helpers import ROOT, decide, decided_lines, spark_session

RULES = 2000


def _rows(path: Path, count: int) -> None:
    """Rows for the generated policy: aimed at rules, random, and some missing or invalid."""
    rows: list[object] = []
    for number, facts in enumerate(random_facts(RULES, count, seed=21)):
        if number % 17 == 3:
            del facts["amount"]  # E306: the fact is required
        elif number % 23 == 5:
            facts["category"] = "c99999"  # E304: not one of the enumeration
        rows.append(facts)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def test_a_policy_of_2000_rules_has_no_flat_case() -> None:
    policy = Policy.from_text(generate_policy(RULES), "generated.policy")
    query = compile_query(policy.checked, trail=True)
    widest = max(len(case.args["ifs"]) for case in query.tree.find_all(exp.Case))
    # A rule's CASE tests its conjuncts; the index's leaves test at most LEAF values; the
    # rules of one value (about ten here) are one CASE: never thousands of branches.
    assert widest <= 4 * LEAF
    for dialect in ("duckdb", "spark"):
        assert query.sql(dialect)


def test_a_policy_of_2000_rules_decides_as_the_reference_engine(tmp_path: Path) -> None:
    policy = tmp_path / "generated.policy"
    policy.write_text(generate_policy(RULES), encoding="utf-8")
    rows = tmp_path / "rows.jsonl"
    _rows(rows, examples(1000))
    expected, _ = decide(policy, rows)
    got, answered = decide(policy, rows, "duckdb")
    assert got == expected
    assert answered >= decided_lines(expected) > 0


def test_traces_of_a_policy_of_2000_rules_are_the_interpreters(tmp_path: Path) -> None:
    policy = tmp_path / "generated.policy"
    policy.write_text(generate_policy(RULES), encoding="utf-8")
    rows = tmp_path / "rows.jsonl"
    _rows(rows, examples(40))
    expected, _ = decide(policy, rows, trace=True)
    got, answered = decide(policy, rows, "duckdb", trace=True)
    assert got == expected
    assert answered >= decided_lines(expected) > 0


def test_refusals_with_trace_are_explained_from_the_query(tmp_path: Path) -> None:
    """Missing facts, broken `require`s and `ensure`s and rows no rule decides, with
    --trace: the same lines as the reference engine's, most of them written from the
    query's trail (only the refusals the query cannot word go back)."""
    path = ROOT / "policies" / "aliexpress" / "refund.policy"
    policy = Policy.load(str(path))
    write_jsonl(generate(policy, examples(1500), seed=9), tmp_path / "rows.jsonl")
    expected, _ = decide(path, tmp_path / "rows.jsonl", trace=True)
    got, answered = decide(path, tmp_path / "rows.jsonl", "duckdb", trace=True)
    assert got == expected
    lines = [json.loads(line) for line in expected.splitlines()]
    refused = sum("refused" in line for line in lines)
    assert refused > 0
    _, plain = decide(path, tmp_path / "rows.jsonl", "duckdb")
    # With --trace the query answers as many rows as without: refusals are not handed back.
    assert answered == plain
    assert answered > decided_lines(expected)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    yield from spark_session()


def test_spark_decides_a_policy_of_2000_rules_as_the_reference_engine(spark: Any,
                                                                       tmp_path: Path) -> None:
    """The indexed query, the sorted rows and the joined table of rule names, on Spark."""
    policy = tmp_path / "generated.policy"
    policy.write_text(generate_policy(RULES), encoding="utf-8")
    rows = tmp_path / "rows.jsonl"
    _rows(rows, examples(300))
    expected, _ = decide(policy, rows)
    got, answered = decide(policy, rows, "spark", opened=spark)
    assert got == expected
    assert answered >= decided_lines(expected) > 0
