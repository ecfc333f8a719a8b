"""The one result type: a decision, or a refusal, with its JSON form and its trace when read."""

from __future__ import annotations

import json

import pytest

from policy_engine import Decision, DiagnosticError, Policy, schemas
from tests.helpers.paths import ROOT

REFUND = ROOT / "policies" / "examples" / "refund.policy"
UNPAID = {"request": "cancel_order", "order_status": "awaiting_payment", "paid": False,
          "amount_paid": "0"}
LATE = {"request": "goods_not_received", "order_status": "sent", "paid": True,
        "amount_paid": "20.00", "days_since_sent": 50, "days_without_tracking": 3}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load(str(REFUND))


@pytest.mark.parametrize("engine", ["interpreted", "compiled"])
def test_evaluate_gives_a_decision_with_reason_citation_and_trace(policy: Policy,
                                                                   engine: str) -> None:
    decision = policy.evaluate(LATE, engine=engine)  # type: ignore[arg-type]
    assert isinstance(decision, Decision) and not decision.refused and decision.refusal == ()
    assert (decision.decision, decision.rule) == ("no_refund_window_expired", "window_expired")
    assert decision.reason == policy.checked.rule("window_expired").reason
    assert decision.citation == policy.checked.rule("window_expired").citation
    assert decision.trace is not None and decision.trace.decided_by.id == "window_expired"
    assert decision.facts is not None and decision.facts["days_since_sent"] == 50


def test_the_default_gives_the_reason_of_otherwise(policy: Policy) -> None:
    facts = {"request": "cancel_order", "order_status": "sent", "paid": True,
             "amount_paid": "12", "days_since_sent": 4}
    decision = policy.evaluate(facts)
    assert decision.rule == "otherwise"
    assert policy.checked.otherwise is not None
    assert decision.reason == policy.checked.otherwise.reason


def test_a_refusal_is_a_decision_with_its_reasons(policy: Policy) -> None:
    refused = policy.evaluate({k: v for k, v in LATE.items() if k != "days_since_sent"})
    assert refused.refused and refused.decision is None and refused.rule is None
    assert [d.code for d in refused.refusal] == ["E309"]
    assert refused.reason is None and dict(refused.outputs) == {}
    # Explained: the broken `require`, with the values it read; no rule was tried.
    trace = refused.trace
    assert trace is not None and trace.refused and trace.decided_by is None
    assert trace.rules == () and [c.kind for c in trace.constraints] == ["require"]
    assert ("days_since_sent", None) in trace.constraints[0].values
    data = refused.to_json()
    assert data["decision"] is None and [d["code"] for d in data["refused"]] == ["E309"]
    assert data["trace"]["constraints"][0]["values"]["days_since_sent"] is None
    assert data["facts"]["days_since_sent"] == {"value": None, "origin": "missing"}
    problems = list(schemas.validator("result").iter_errors(
        {**data, "scenario": None, "description": None, "expect": None}))
    assert problems == []


def test_a_refusal_by_the_rules_shows_how_far_evaluation_got(policy: Policy) -> None:
    facts = {"request": "cancel_order", "order_status": "sent", "paid": True,
             "amount_paid": "12", "days_since_sent": 4}
    text = policy.checked.source.text.replace(
        "otherwise refer_to_support with refund_kind = none", "otherwise refuse")
    refusing = Policy.from_text(text, "refund.policy")
    refused = refusing.evaluate(facts)
    assert [d.code for d in refused.refusal] == ["E404"]
    trace = refused.trace
    assert trace is not None and trace.closest  # the rules that came closest
    assert {r.status for r in trace.rules} <= {"did not apply", "not in effect"}
    assert all(r.checks[-1].result is False for r in trace.rules if r.status == "did not apply")


def test_invalid_facts_raise_and_are_no_decision(policy: Policy) -> None:
    with pytest.raises(DiagnosticError) as caught:
        policy.evaluate({**UNPAID, "paid": "no"})
    assert [d.code for d in caught.value.diagnostics] == ["E304"]


def test_to_json_is_exact_and_plain(policy: Policy) -> None:
    data = policy.evaluate({**LATE, "amount_paid": "20.10"}).to_json()
    assert data["format"] == "policy-engine/result" and data["format_version"] == 2
    assert data["facts"]["amount_paid"] == {"value": "20.10", "origin": "given"}
    assert json.loads(json.dumps(data)) == data  # only JSON types


def test_shared_hot_loop_decisions_cannot_be_changed(policy: Policy) -> None:
    decide = policy.decider()
    first, second = decide(UNPAID), decide(dict(UNPAID))
    assert first is second  # a constant-output rule's decision is made once
    with pytest.raises(TypeError):
        first.outputs["refund_kind"] = "full"  # type: ignore[index]
    assert first.facts is None and first.trace is None
    assert first.reason == policy.evaluate(UNPAID).reason


def test_hot_loop_refusals_are_decisions_too(policy: Policy) -> None:
    refused = policy.decider()({k: v for k, v in LATE.items() if k != "days_since_sent"})
    assert refused.refused and [d.code for d in refused.refusal] == ["E309"]
