"""Facts out of the engine's range are refused (E304) before anything expands them.

A whole number has at most 4,300 digits; an amount at most 28. A number with a huge exponent
(`1e999999999` read by a JSON decoder with `parse_float=Decimal`) would take a billion digits to
write out: the fact stage refuses it from its exponent, on every path (the exact conversion, the
quick converters, the full stage and its messages, the compiled validator). The tests use
exponents whose expansion no machine could hold, so an expansion fails at once instead of
filling the memory; one test runs the reported row in a process whose memory is limited.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from policy_engine.check.types import AmountType, TextType, Type, WholeType
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.facts.conversion import ConversionError, convert_value, converter
from policy_engine.policy import Engine, Policy

ROOT = Path(__file__).resolve().parents[2]
ENGINES: list[Engine] = ["interpreted", "compiled"]
#: 10**(10**18): written out it would need an exabyte.
ASTRONOMICAL = Decimal("1E+999999999999999999")

POLICY = Policy.from_text("""policy p
fact n: whole number
fact small: optional whole number from 0 to 5
fact a: optional amount
fact t: optional text
decision d
otherwise d
""", "p.policy")


def refusals(raw: dict[str, object]) -> list[tuple[str, str | None, str | None]]:
    """What every way of validating says, which must be the same: (code, path, message)."""
    found = []
    for validate in (lambda: POLICY.evaluate(raw, engine="interpreted"),
                     lambda: POLICY.evaluate(raw, engine="compiled"),
                     lambda: POLICY.decider()(raw)):
        with pytest.raises(DiagnosticError) as caught:
            validate()
        found.append([(d.code, d.path, d.message) for d in caught.value.diagnostics])
    assert found[0] == found[1] == found[2]
    return found[0]


#: (type, value); whole numbers beyond 4,300 digits have no text, so tests are numbered.
BEYOND: list[tuple[Type, object]] = [
    (WholeType(), ASTRONOMICAL), (WholeType(), Decimal("-1E+999999999999999999")),
    (WholeType(), Decimal("1E+999999999")),
    (AmountType(), ASTRONOMICAL), (AmountType(), Decimal("-1E-999999999999999999")),
    (TextType(), ASTRONOMICAL), (WholeType(), 10**5000), (TextType(), 10**5000),
    (AmountType(), 10**5000),
]


@pytest.mark.parametrize(("t", "raw"), BEYOND, ids=[str(i) for i in range(len(BEYOND))])
def test_conversion_refuses_without_expanding(t: Type, raw: object) -> None:
    with pytest.raises(ConversionError) as caught:
        convert_value(t, raw)
    assert len(str(caught.value)) < 200
    quick = converter(t)
    assert quick is not None and quick(raw) is None  # the quick converters are not sure


OUT_OF_RANGE: list[tuple[dict[str, object], str]] = [
    ({"n": ASTRONOMICAL}, "expected a whole number, got 1E+999999999999999999"),
    ({"n": Decimal("-1E+999999999")}, "expected a whole number, got -1E+999999999"),
    ({"n": 1, "a": ASTRONOMICAL},
     "an amount has at most 28 significant digits, within 28 places of the decimal point"),
    ({"n": 1, "a": Decimal("1E-999999999")},
     "an amount has at most 28 significant digits, within 28 places of the decimal point"),
    ({"n": 10**4300}, "a whole number has at most 4,300 digits; this one has more"),
    ({"n": -(10**6000)}, "a whole number has at most 4,300 digits; this one has more"),
    ({"n": 1, "small": 10**5000},
     "expected a whole number from 0 to 5, got a number of more than 4,300 digits"),
    ({"n": 1, "t": 10**5000}, "expected text, got a number of more than 4,300 digits"),
    ({"n": 1, "t": ASTRONOMICAL}, "expected text, got 1E+999999999999999999"),
]


@pytest.mark.parametrize(("raw", "message"), OUT_OF_RANGE,
                         ids=[str(i) for i in range(len(OUT_OF_RANGE))])
def test_the_fact_stage_says_what_is_out_of_range(raw: dict[str, object], message: str) -> None:
    (found,) = refusals(raw)
    assert found[0] == "E304" and found[2] == message


def test_the_largest_whole_number_is_accepted() -> None:
    largest = 10**4300 - 1
    for engine in ENGINES:
        decision = POLICY.evaluate({"n": -largest}, engine=engine)
        assert decision.facts["n"] == -largest
    assert POLICY.decider()({"n": largest}).decision == "d"


def test_a_json_row_with_a_huge_exponent_is_refused_in_little_memory(tmp_path: Path) -> None:
    # The row of the report: 100 bytes that expand into 10**9 digits. Refused with a gigabyte
    # of address space less than the expansion needs; the timeout only guards against a hang.
    resource = pytest.importorskip("resource")
    limit = 512 * 1024 * 1024
    script = textwrap.dedent("""
        import json
        from decimal import Decimal
        from policy_engine.core.diagnostics import DiagnosticError
        from policy_engine.policy import Policy

        policy = Policy.from_text(
            "policy p\\nfact days_since_sent: whole number\\nfact refund: optional amount\\n"
            "decision d\\notherwise d\\n", "p.policy")
        for row in ('{"days_since_sent": 1e999999999}',
                    '{"days_since_sent": 1, "refund": 1e999999999}'):
            facts = json.loads(row, parse_float=Decimal)
            for decide in (lambda: policy.evaluate(facts),
                           lambda: policy.evaluate(facts, engine="compiled"),
                           lambda: policy.decider()(facts)):
                try:
                    decide()
                except DiagnosticError as error:
                    print(error.diagnostics[0].code, error.diagnostics[0].message)
    """)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, preexec_fn=limit_memory, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    amount = "an amount has at most 28 significant digits, within 28 places of the decimal point"
    assert done.stdout.splitlines() == (
        ["E304 expected a whole number, got 1E+999999999"] * 3 + [f"E304 {amount}"] * 3)


def test_json_floats_out_of_range_are_refused() -> None:
    # Without parse_float=Decimal, 1e999999999 is the float infinity.
    (found,) = refusals(json.loads('{"n": 1e999999999}'))
    assert found[2] == "expected a whole number, got inf"
