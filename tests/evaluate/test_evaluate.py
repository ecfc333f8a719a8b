"""Tests for evaluation semantics, each run with both evaluators (interpreted and compiled).

Small inline policies pin one rule of the language each: operators, short circuits, exact
arithmetic, missing facts, defaults, the resolution strategies and the trace.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from decimal import Decimal

import pytest

from policy_engine.evaluate.errors import EvaluationError
from policy_engine.evaluate.runtime import Evaluation
from policy_engine.explain.decision import Decision
from policy_engine.policy import Engine, Policy
from tests.helpers.evaluation import evaluation, typed_facts

ENGINES: list[Engine] = ["interpreted", "compiled"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.param  # type: ignore[no-any-return]


@functools.cache
def policy_of(text: str) -> Policy:
    """Parses and checks once per text: many tests share a policy and differ in facts."""
    return Policy.from_text(text, "t.policy")


def decide(text: str, facts: Mapping[str, object], engine: Engine) -> Evaluation:
    policy = policy_of(text)
    return evaluation(policy, typed_facts(policy, facts), engine)


def explained(text: str, facts: Mapping[str, object], engine: Engine) -> Decision:
    return policy_of(text).evaluate(facts, engine=engine)


def refusal(text: str, facts: Mapping[str, object], engine: Engine) -> EvaluationError:
    policy = policy_of(text)
    typed = typed_facts(policy, facts)
    with pytest.raises(EvaluationError) as caught:
        evaluation(policy, typed, engine)
    decision = policy.evaluate(facts, engine=engine)  # the same refusal, as a Decision
    assert decision.refused and decision.decision is None
    assert [(d.code, d.message, d.label) for d in decision.refusal] == [
        (caught.value.code, caught.value.message, caught.value.label)]
    # Explained: the rules it stopped in, or that conflict, are the ones the refusal names.
    trace = decision.trace
    assert trace is not None and trace.refused and trace.decided_by is None
    involved = [r.id for r in (*trace.rules, *trace.advisories)
                if r.status in ("stopped", "matched")]
    if caught.value.code in ("E402", "E403"):
        assert set(caught.value.rules) <= set(involved)
    else:
        assert involved == list(caught.value.rules)
    return caught.value


# ---------------------------------------------------------------- operators

FACTS_HEAD = """policy ops
fact n: whole number
fact m: whole number
fact a: amount
fact b: amount
fact s: one of low, mid, high
fact t: text
fact d: date
fact l: list of one of p, q, r
fact tags: list of text
fact flag: yes/no
fact opt: optional whole number
decision hit
decision miss
"""

FACTS = {"n": 5, "m": 3, "a": "2.50", "b": "0.1", "s": "mid", "t": "hello",
         "d": "2024-03-15", "l": ["p", "q"], "tags": ["vip"], "flag": True}

CONDITIONS = [
    # comparisons on whole numbers, amounts, and both mixed
    ("n == 5", True), ("n == 4", False), ("n != 4", True), ("n != 5", False),
    ("n < 6", True), ("n < 5", False), ("n <= 5", True), ("n <= 4", False),
    ("n > 4", True), ("n > 5", False), ("n >= 5", True), ("n >= 6", False),
    ("a == 2.5", True), ("a == 2.50", True), ("a > 2.49", True), ("a < n", True),
    ("n == 5.0", True), ("n > 4.99", True),
    # dates and text
    ("d == 2024-03-15", True), ("d > 2024-03-14", True), ("d < 2024-03-15", False),
    ('t == "hello"', True), ('t == "Hello"', False), ('t is "hello"', True),
    ('t is not "hello"', False),
    # enumerations and yes/no
    ("s is mid", True), ("s is low", False), ("s is not mid", False), ("s == mid", True),
    ("s != high", True), ("mid == s", True), ("flag", True), ("not flag", False),
    ("flag is yes", True), ("flag == no", False), ("yes", True), ("true and not false", True),
    # in, not in, contains, list equality
    ("s in [low, mid]", True), ("s in [high]", False), ("s not in [high]", True),
    ("s not in [mid, high]", False), ("s in []", False), ("s not in []", True),
    ("n in [1, 5, 9]", True), ("n in [1, 9]", False), ("a in [2.5]", True),
    ("l contains p", True), ("l contains r", False), ('tags contains "vip"', True),
    ('tags contains "VIP"', False), ("l == [p, q]", True), ("l == [q, p]", False),
    ("l != []", True),
    # between includes both ends
    ("n between 5 and 10", True), ("n between 1 and 5", True), ("n between 6 and 10", False),
    ("n between 1 and 4", False), ("a between 2.5 and 2.5", True),
    ("a between 2.51 and 3", False), ("d between 2024-03-15 and 2024-03-15", True),
    ("d between 2024-01-01 and 2024-03-14", False), ("n between 4.5 and 5.5", True),
    # arithmetic and precedence
    ("n + m == 8", True), ("n - m == 2", True), ("n * m == 15", True), ("-n == -5", True),
    ("n - m * 2 == -1", True), ("(n - m) * 2 == 4", True), ("n - m - 1 == 1", True),
    ("a + b == 2.6", True), ("a * 2 == 5", True), ("a - 3 < 0", True), ("-a == -2.5", True),
    ("round(n / m, 2) == 1.67", True), ("round(n / 2, 0) == 3", True),
    # logic
    ("n > 1 and m > 1", True), ("n > 1 and m > 5", False), ("n > 9 or m > 1", True),
    ("n > 9 or m > 9", False), ("not (n > 9)", True), ("not n > 9", True),
    ("n > 9 or m > 9 or s is mid", True), ("not (n > 1 and m > 1)", False),
    # presence
    ("opt is missing", True), ("opt is present", False), ("opt is not missing", False),
]


@pytest.mark.parametrize(("condition", "expected"), CONDITIONS,
                         ids=[c for c, _ in CONDITIONS])
def test_operator(condition: str, expected: bool, engine: Engine) -> None:
    text = FACTS_HEAD + f'rule r when {condition} then hit because "r"\notherwise miss'
    assert decide(text, FACTS, engine).decision == ("hit" if expected else "miss")


# ---------------------------------------------------------------- order and short circuits

OPTIONAL = """policy guards
fact n: whole number
fact m: whole number
fact opt: optional whole number
decision hit
decision miss
"""


@pytest.mark.parametrize(
    ("condition", "facts", "decision"),
    [
        ("opt is present and opt > 1", {"n": 1, "m": 1}, "miss"),
        ("opt is present and opt > 1", {"n": 1, "m": 1, "opt": 2}, "hit"),
        ("opt is missing or opt > 1", {"n": 1, "m": 1}, "hit"),
        ("n > 100 and opt > 1", {"n": 1, "m": 1}, "miss"),
        ("n > 0 or opt > 1", {"n": 1, "m": 1}, "hit"),
        ("not (opt is present) or opt > 1", {"n": 1, "m": 1}, "hit"),
        ("m != 0 and round(n / m, 2) > 1", {"n": 1, "m": 0}, "miss"),
        ("m == 0 or round(n / m, 2) > 0", {"n": 1, "m": 0}, "hit"),
    ],
)
def test_guards_short_circuit(condition: str, facts: dict[str, object], decision: str,
                              engine: Engine) -> None:
    text = OPTIONAL + f'rule r when {condition} then hit because "r"\notherwise miss'
    assert decide(text, facts, engine).decision == decision


@pytest.mark.parametrize(
    "condition",
    ["opt > 1 and opt is present", "n > 0 and opt > 1", "n < 0 or opt > 1", "opt + 1 > n"],
)
def test_conditions_are_not_reordered_around_a_missing_fact(condition: str,
                                                             engine: Engine) -> None:
    text = OPTIONAL + f'rule r when {condition} then hit because "r"\notherwise miss'
    error = refusal(text, {"n": 1, "m": 1}, engine)
    assert (error.code, error.fact, error.rules) == ("E401", "opt", ("r",))


def test_a_failed_rule_is_reported_at_its_first_false_conjunct(engine: Engine) -> None:
    text = OPTIONAL + ('rule r when n > 0 and m > 5 and opt > 1 then hit because "r"\n'
                       "otherwise miss")
    evaluation = decide(text, {"n": 1, "m": 1}, engine)  # opt is never read
    assert evaluation.decision == "miss"
    assert evaluation.outcomes[0].status == "did not apply"
    assert evaluation.outcomes[0].failed_at == 1


# ---------------------------------------------------------------- arithmetic

ARITH = """policy sums
fact n: whole number
fact m: whole number
fact a: amount
fact b: amount
decision done
output total: amount
output count: whole number
rule r when n >= 0 then done with total = {total}, count = {count} because "r"
"""


@pytest.mark.parametrize(
    ("total", "facts", "expected"),
    [
        ("a + b", {"a": "0.1", "b": "0.2"}, Decimal("0.3")),
        ("a - b", {"a": "0.3", "b": "0.1"}, Decimal("0.2")),
        ("a * b", {"a": "0.1", "b": "0.1"}, Decimal("0.01")),
        ("a + b", {"a": "12345678901234567890.12", "b": "0.01"},
         Decimal("12345678901234567890.13")),
        ("a * 3", {"a": "33.33"}, Decimal("99.99")),
        ("a + n", {"a": "0.5", "n": 2}, Decimal("2.5")),
        ("-a", {"a": "1.10"}, Decimal("-1.10")),
        ("round(a / b, 2)", {"a": "10", "b": "3"}, Decimal("3.33")),
        ("round(n / m, 2)", {"n": 2, "m": 3}, Decimal("0.67")),
        ("round(a / b, 2)", {"a": "1", "b": "8"}, Decimal("0.13")),
        ("round(-a / b, 2)", {"a": "1", "b": "8"}, Decimal("-0.13")),
        ("round_down(a / b, 2)", {"a": "1", "b": "8"}, Decimal("0.12")),
        ("round_up(a / b, 2)", {"a": "1", "b": "800"}, Decimal("0.01")),
        ("round(a * b, 1)", {"a": "0.25", "b": "1"}, Decimal("0.3")),
        ("round(a, 0)", {"a": "2.5"}, Decimal("3")),
        ("round(a, 0)", {"a": "-2.5"}, Decimal("-3")),
        ("round(a, 2)", {"a": "3"}, Decimal("3.00")),
        ("round(n / m, 28)", {"n": 1, "m": 3}, Decimal("0." + "3" * 28)),
    ],
)
def test_amount_arithmetic_is_exact(total: str, facts: dict[str, object], expected: Decimal,
                                    engine: Engine) -> None:
    given = {"n": 1, "m": 1, "a": "0", "b": "1", **facts}
    outputs = dict(decide(ARITH.format(total=total, count="n"), given, engine).outputs)
    assert isinstance(outputs["total"], Decimal)
    assert outputs["total"] == expected
    assert str(outputs["total"]) == str(expected)


@pytest.mark.parametrize(
    ("count", "facts", "expected"),
    [("n + m", {"n": 2, "m": 3}, 5), ("n - m", {"n": 2, "m": 3}, -1),
     ("n * m", {"n": 4, "m": 3}, 12), ("-n", {"n": 4}, -4),
     ("n * m * m * m", {"n": 10**12, "m": 10**6}, 10**30)],
)
def test_whole_number_arithmetic_stays_whole(count: str, facts: dict[str, object],
                                             expected: int, engine: Engine) -> None:
    given = {"n": 1, "m": 1, "a": "0", "b": "1", **facts}
    outputs = dict(decide(ARITH.format(total="a", count=count), given, engine).outputs)
    assert type(outputs["count"]) is int
    assert outputs["count"] == expected


HUGE = ("policy huge\nfact a: amount\ndecision d\noutput x: amount\n"
        'rule r when a > 0 then d with x = {x} because "r"\n')


@pytest.mark.parametrize("value", ["9" * 5000, "9" * 500_001, "1" + "0" * 28, "0." + "1" * 29])
def test_an_amount_longer_than_28_digits_is_refused_before_any_rule(value: str) -> None:
    from policy_engine import DiagnosticError, Policy

    policy = Policy.from_text(HUGE.format(x="round(a, 2)"))
    with pytest.raises(DiagnosticError) as raised:
        policy.evaluate({"a": value})
    assert raised.value.diagnostics[0].code == "E304"
    assert "at most 28 significant digits" in raised.value.diagnostics[0].message


def test_the_longest_amounts_round_exactly_and_multiply_to_28_digits(engine: Engine) -> None:
    value = "9" * 28
    outputs = dict(decide(HUGE.format(x="round(a, 2)"), {"a": value}, engine).outputs)
    assert outputs["x"] == Decimal(value)
    assert dict(decide(HUGE.format(x="round(a * a / 1, 0)"), {"a": value}, engine)
                .outputs)["x"] == Decimal(value) ** 2


def test_sum_of_tenths_compares_exactly(engine: Engine) -> None:
    text = ("policy tenths\nfact a: amount\nfact b: amount\ndecision yes_\ndecision no_\n"
            'rule r when a + b == 0.3 then yes_ because "exact"\notherwise no_')
    assert decide(text, {"a": "0.1", "b": "0.2"}, engine).decision == "yes_"
    assert decide(text, {"a": "0.1", "b": "0.21"}, engine).decision == "no_"


@pytest.mark.parametrize("total", ["round(a / b, 2)", "round(a / (b - b), 2)",
                                   "round(n / m, 0)"])
def test_division_by_zero_is_e405_naming_the_rule(total: str, engine: Engine) -> None:
    text = ARITH.format(total=total, count="n")
    error = refusal(text, {"n": 1, "m": 0, "a": "1", "b": "0"}, engine)
    assert error.code == "E405"
    assert error.message == "rule 'r' (t.policy:9) divides by zero"
    assert error.rules == ("r",)


def test_division_by_zero_in_a_condition_is_e405(engine: Engine) -> None:
    text = ARITH.format(total="a", count="n").replace("when n >= 0", "when round(a / b, 2) > 1")
    assert refusal(text, {"n": 1, "m": 0, "a": "1", "b": "0"}, engine).code == "E405"


# ---------------------------------------------------------------- missing facts and defaults

MISSING = """policy missing
fact n: whole number
fact opt: optional whole number
fact rush: yes/no default no
fact fee: amount default 2.50
fact kinds: list of one of x, y default []
decision hit
decision miss
output count: whole number
output paid: amount
rule uses_opt when n > 1 and opt > 1 then hit because "reads opt"
rule sets_opt when n == 1 then hit with count = opt because "sets opt"
otherwise miss with count = n, paid = fee
"""


def test_missing_fact_in_a_condition_is_e401_naming_fact_and_rule(engine: Engine) -> None:
    error = refusal(MISSING, {"n": 5}, engine)
    assert error.code == "E401"
    assert error.message == "rule 'uses_opt' (t.policy:11) needs fact 'opt', which is missing"
    assert (error.fact, error.rules) == ("opt", ("uses_opt",))
    assert error.help is not None and "opt is present and" in error.help
    assert error.__cause__ is None and error.__suppress_context__


def test_missing_fact_in_an_output_is_e401(engine: Engine) -> None:
    error = refusal(MISSING, {"n": 1}, engine)
    assert (error.code, error.fact, error.rules) == ("E401", "opt", ("sets_opt",))


def test_missing_fact_in_the_default_names_the_default() -> None:
    text = MISSING.replace("count = n, paid = fee", "count = opt")
    for engine in ENGINES:
        error = refusal(text, {"n": 0}, engine)
        assert error.code == "E401"
        assert error.message == ("the 'otherwise' default (t.policy:13) needs fact 'opt', "
                                 "which is missing")


def test_deciding_without_validation_reports_a_missing_required_fact(engine: Engine) -> None:
    policy = Policy.from_text(MISSING, "t.policy")
    with pytest.raises(EvaluationError) as caught:
        evaluation(policy, {"rush": False}, engine)
    assert (caught.value.code, caught.value.fact) == ("E401", "n")


def test_defaults_are_filled_and_used(engine: Engine) -> None:
    policy = Policy.from_text(MISSING, "t.policy")
    decision = policy.evaluate({"n": 0}, engine=engine)
    assert decision.facts == {"n": 0, "rush": False, "fee": Decimal("2.50"), "kinds": ()}
    assert decision.trace is not None
    assert (decision.decision, decision.rule) == ("miss", "otherwise")
    assert decision.outputs == {"count": 0, "paid": Decimal("2.50")}
    origins = {f.name: f.origin for f in decision.trace.facts}
    assert origins == {"n": "given", "opt": "missing", "rush": "default", "fee": "default",
                       "kinds": "default"}


def test_a_given_value_replaces_the_default(engine: Engine) -> None:
    text = MISSING.replace('rule uses_opt when n > 1 and opt > 1',
                           'rule uses_opt when rush and kinds contains x')
    assert decide(text, {"n": 5, "rush": True, "kinds": ["x"]}, engine).rule == "uses_opt"
    assert decide(text, {"n": 5}, engine).rule == "otherwise"


def test_a_whole_default_of_an_amount_fact_is_an_amount() -> None:
    policy = policy_of("policy p\nfact fee: amount default 0\ndecision d\n"
                       'rule r when fee >= 0 then d because "r"')
    fee = typed_facts(policy, {})["fee"]
    assert isinstance(fee, Decimal) and fee == 0


def test_an_amount_output_set_from_a_whole_number_is_an_amount(engine: Engine) -> None:
    text = ARITH.format(total="n", count="n")
    outputs = dict(decide(text, {"n": 1, "m": 1, "a": "0", "b": "1"}, engine).outputs)
    assert isinstance(outputs["total"], Decimal) and outputs["total"] == 1


# ---------------------------------------------------------------- strategies

STRATEGY = """policy strategy
{resolve}
fact n: whole number
decision small
decision big
output size: whole number
rule first when n > 1 then big with size = {first_size} because "more than one"
rule second when n > 10 then big with size = {second_size} because "more than ten"
rule third when n < 0 then small because "negative"
{otherwise}
"""


def strategy(resolve: str, *, first_size: str = "1", second_size: str = "1",
             otherwise: str = "otherwise small") -> str:
    return STRATEGY.format(resolve=resolve, first_size=first_size, second_size=second_size,
                           otherwise=otherwise)


def statuses(evaluation: Evaluation) -> dict[str, str]:
    return {o.rule: o.status for o in evaluation.outcomes}


def test_first_match_takes_the_first_matching_rule(engine: Engine) -> None:
    evaluation = decide(strategy("resolve first match"), {"n": 20}, engine)
    assert (evaluation.decision, evaluation.rule) == ("big", "first")
    assert statuses(evaluation) == {"first": "decided", "second": "not reached",
                                    "third": "not reached"}


def test_first_match_is_the_default_strategy(engine: Engine) -> None:
    evaluation = decide(strategy(""), {"n": 20}, engine)
    assert evaluation.rule == "first"
    assert Policy.from_text(strategy(""), "t.policy").checked.strategy == "first match"


def test_first_match_reports_rules_before_the_decider(engine: Engine) -> None:
    text = strategy("resolve first match").replace("rule first when n > 1",
                                                   "rule first when n > 100")
    evaluation = decide(text, {"n": 20}, engine)
    assert evaluation.rule == "second"
    assert statuses(evaluation) == {"first": "did not apply", "second": "decided",
                                    "third": "not reached"}


def test_unique_decides_when_one_rule_matches(engine: Engine) -> None:
    evaluation = decide(strategy("resolve unique"), {"n": 5}, engine)
    assert evaluation.rule == "first"
    assert statuses(evaluation) == {"first": "decided", "second": "did not apply",
                                    "third": "did not apply"}


def test_unique_refuses_when_two_rules_match_naming_both(engine: Engine) -> None:
    error = refusal(strategy("resolve unique"), {"n": 20}, engine)
    assert error.code == "E402"
    assert error.rules == ("first", "second")
    assert error.message == ("rules 'first' (t.policy:7) and 'second' (t.policy:8) both match; "
                             "the policy resolves with 'unique'")


def test_agreeing_succeeds_when_matching_rules_agree(engine: Engine) -> None:
    evaluation = decide(strategy("resolve agreeing"), {"n": 20}, engine)
    assert (evaluation.decision, evaluation.rule) == ("big", "first")
    assert statuses(evaluation) == {"first": "decided", "second": "agreed",
                                    "third": "did not apply"}


def test_agreeing_outputs_computed_differently_but_equal_agree(engine: Engine) -> None:
    text = strategy("resolve agreeing", first_size="n - n + 1", second_size="2 - 1")
    assert decide(text, {"n": 20}, engine).rule == "first"


def test_agreeing_refuses_when_outputs_disagree(engine: Engine) -> None:
    error = refusal(strategy("resolve agreeing", second_size="2"), {"n": 20}, engine)
    assert error.code == "E403"
    assert error.rules == ("first", "second")
    assert error.message == ("rules 'first' (t.policy:7) and 'second' (t.policy:8) match but "
                             "disagree: 'big' with size = 1 against 'big' with size = 2")


def test_agreeing_refuses_when_decisions_disagree(engine: Engine) -> None:
    text = strategy("resolve agreeing").replace("rule third when n < 0", "rule third when n > 5")
    error = refusal(text, {"n": 20}, engine)
    assert error.code == "E403"
    assert error.rules == ("first", "third")


@pytest.mark.parametrize("resolve", ["resolve first match", "resolve unique",
                                     "resolve agreeing"])
def test_no_match_and_no_otherwise_is_e404(resolve: str, engine: Engine) -> None:
    error = refusal(strategy(resolve, otherwise=""), {"n": 0}, engine)
    assert error.code == "E404"
    assert error.message == "no rule matched and the policy has no 'otherwise' default"


@pytest.mark.parametrize("resolve", ["resolve first match", "resolve unique",
                                     "resolve agreeing"])
def test_otherwise_decides_when_nothing_matches(resolve: str, engine: Engine) -> None:
    evaluation = decide(strategy(resolve), {"n": 0}, engine)
    assert (evaluation.decision, evaluation.rule, evaluation.outputs) == ("small", "otherwise",
                                                                          ())
    assert set(statuses(evaluation).values()) == {"did not apply"}


# ---------------------------------------------------------------- outputs

OUTPUTS = """policy outputs
fact price: amount
fact qty: whole number
fact kind: one of gift, sale
fact tags: list of text default []
decision charge
output total: amount
output items: whole number
output label: one of gift, sale, other
output flags: list of text
output note: text
output due: date
output urgent: yes/no
rule r when qty > 0 then charge with total = price * qty, items = qty + 1, label = kind,
  flags = tags, note = "fixed", due = 2024-12-31, urgent = qty > 5 or kind is gift
  because "r"
"""


def test_outputs_are_computed_from_facts_in_declaration_order(engine: Engine) -> None:
    evaluation = decide(OUTPUTS, {"price": "2.25", "qty": 4, "kind": "gift",
                                  "tags": ["a", "b"]}, engine)
    assert evaluation.outputs == (
        ("total", Decimal("9.00")), ("items", 5), ("label", "gift"), ("flags", ("a", "b")),
        ("note", "fixed"), ("due", datetime.date(2024, 12, 31)), ("urgent", True))


def test_outputs_follow_the_facts(engine: Engine) -> None:
    evaluation = decide(OUTPUTS, {"price": "1", "qty": 1, "kind": "sale"}, engine)
    outputs = dict(evaluation.outputs)
    assert outputs["total"] == Decimal("1")
    assert outputs["label"] == "sale"
    assert outputs["flags"] == ()
    assert outputs["urgent"] is False


# ---------------------------------------------------------------- the trace

TRACE = """policy trace
fact n: whole number
fact m: whole number
fact kind: one of a, b
fact opt: optional whole number
decision yes_
decision no_
rule both_big "Both big" when n > 10 and m > 10 then yes_ because "both big"
rule mid when n > 5 and m > 5 and kind is a then yes_ because "mid"
rule guarded when opt is present and opt > 1 then yes_ because "opt"
rule huge when n > 100 then yes_ because "huge"
rule tiny when n < 0 and m < 0 and kind is b and n < -5 then no_ because "tiny"
otherwise no_ because "small"
"""


def test_trace_of_the_deciding_rule_lists_every_check(engine: Engine) -> None:
    decision = explained(TRACE, {"n": 7, "m": 8, "kind": "a"}, engine)
    assert decision.rule == "mid"
    rule = decision.trace.decided_by
    assert (rule.id, rule.status, rule.line, rule.reason) == ("mid", "decided", 9, "mid")
    assert [(c.text, c.result, c.values) for c in rule.checks] == [
        ("n > 5", True, (("n", 7),)), ("m > 5", True, (("m", 8),)),
        ("kind is a", True, (("kind", "a"),))]
    assert [c.display for c in rule.checks] == ["n = 7 > 5", "m = 8 > 5", "kind is a"]
    assert [(c.line, c.column) for c in rule.checks] == [(9, 15), (9, 25), (9, 35)]
    assert not decision.trace.by_default and decision.trace.closest == ()


def test_trace_shows_the_failing_conjunct_of_other_rules_with_values(engine: Engine) -> None:
    decision = explained(TRACE, {"n": 7, "m": 8, "kind": "a"}, engine)
    both_big = decision.trace.rules[0]
    assert (both_big.id, both_big.status, both_big.title) == ("both_big", "did not apply",
                                                              "Both big")
    assert [(c.text, c.result, c.values) for c in both_big.checks] == [
        ("n > 10", False, (("n", 7),))]


def test_trace_marks_later_rules_not_reached_under_first_match(engine: Engine) -> None:
    decision = explained(TRACE, {"n": 7, "m": 8, "kind": "a"}, engine)
    later = {r.id: (r.status, r.checks) for r in decision.trace.rules[2:]}
    assert later == {"guarded": ("not reached", ()), "huge": ("not reached", ()),
                     "tiny": ("not reached", ())}


def test_trace_of_a_failed_guard_shows_the_missing_value(engine: Engine) -> None:
    decision = explained(TRACE, {"n": 1, "m": 1, "kind": "a"}, engine)
    guarded = next(r for r in decision.trace.rules if r.id == "guarded")
    assert [(c.text, c.result, c.values) for c in guarded.checks] == [
        ("opt is present", False, (("opt", None),))]


def test_trace_lists_the_closest_rules_when_the_default_decides(engine: Engine) -> None:
    decision = explained(TRACE, {"n": 7, "m": 1, "kind": "b", "opt": 0}, engine)
    trace = decision.trace
    assert trace.by_default and trace.decided_by.id == "otherwise"
    assert trace.decided_by.status == "decided" and trace.decided_by.checks == ()
    # guarded holds 1 of 2, mid 1 of 3 (n > 5), tiny 1 of 4 (kind is b); ties go to file order;
    # both_big and huge hold nothing and are left out.
    assert [(m.rule.id, m.held, m.total) for m in trace.closest] == [
        ("guarded", 1, 2), ("mid", 1, 3), ("tiny", 1, 4)]
    mid = trace.closest[1].rule
    assert [(c.text, c.result) for c in mid.checks] == [
        ("n > 5", True), ("m > 5", False), ("kind is a", False)]


def test_closest_rules_say_unknown_for_a_conjunct_that_needs_a_missing_fact(
        engine: Engine) -> None:
    text = TRACE.replace("rule guarded when opt is present and opt > 1",
                         "rule guarded when m > 5 and opt > 1 and n > 5")
    trace = explained(text, {"n": 7, "m": 1, "kind": "b"}, engine).trace
    guarded = next(m for m in trace.closest if m.rule.id == "guarded")
    assert [(c.text, c.result, c.values) for c in guarded.rule.checks] == [
        ("m > 5", False, (("m", 1),)), ("opt > 1", None, (("opt", None),)),
        ("n > 5", True, (("n", 7),))]
    assert (guarded.held, guarded.total) == (1, 3)


def test_trace_names_only_rules_that_exist(engine: Engine) -> None:
    policy = Policy.from_text(TRACE, "t.policy")
    ids = {r.id for r in policy.checked.rules}
    for facts in ({"n": 7, "m": 8, "kind": "a"}, {"n": 7, "m": 1, "kind": "b"},
                  {"n": -9, "m": -1, "kind": "b"}):
        trace = policy.evaluate(facts, engine=engine).trace
        assert [r.id for r in trace.rules] == [r.id for r in policy.checked.rules]
        assert {m.rule.id for m in trace.closest} <= ids
        assert trace.decided_by.id in ids | {"otherwise"}


_DERIVED_READS_MISSING = """policy late
fact days_late: optional whole number at least 0
fact grace_days: whole number at least 0
decision voucher
decision nothing_owed
define days_over = days_late - grace_days
define weeks_over = round_down(days_over / 7, 0)
rule by_days when days_over >= 7 then voucher because "a week late"
rule by_weeks when weeks_over >= 2 then voucher because "two weeks late"
otherwise nothing_owed because "not late enough"
"""


@pytest.mark.parametrize("engine", ["interpreted", "compiled"])
@pytest.mark.parametrize("first_rule", ["by_days", "by_weeks"])
def test_e401_inside_a_define_names_the_derived_value(engine: str, first_rule: str) -> None:
    # Read directly (days_over) or through another derived value (weeks_over reads
    # days_over): the derived value that reads the fact is named, and the help guards it.
    lines = _DERIVED_READS_MISSING.splitlines(keepends=True)
    if first_rule == "by_weeks":  # the rule that reads weeks_over comes first
        lines[7], lines[8] = lines[8], lines[7]
    assert lines[7].startswith(f"rule {first_rule} ")
    policy = Policy.from_text("".join(lines), "late.policy")
    decision = policy.evaluate({"grace_days": 2}, engine=engine)  # type: ignore[arg-type]
    (refusal,) = decision.refusal
    assert refusal.code == "E401"
    assert refusal.message.endswith(
        "needs fact 'days_late', which is missing, for derived value 'days_over'")
    assert refusal.help == (
        "give 'days_late' in the facts, or guard the derived value: define days_over = if "
        "days_late is present then ... else ...; or guard the rule with 'days_late is present "
        "and ...'")


@pytest.mark.parametrize("engine", ["interpreted", "compiled"])
def test_e401_in_the_rule_itself_still_names_the_rule(engine: str) -> None:
    policy = Policy.from_text(_DERIVED_READS_MISSING.replace(
        "when days_over >= 7", "when days_late >= 7"), "late.policy")
    (refusal,) = policy.evaluate({"grace_days": 2}, engine=engine).refusal  # type: ignore[arg-type]
    assert refusal.message.endswith("needs fact 'days_late', which is missing")
    assert "derived value" not in (refusal.help or "")
