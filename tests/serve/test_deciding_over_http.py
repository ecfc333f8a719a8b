"""Decisions over HTTP are the library's decisions, and every one is a whole line in the log.

A real server (uvicorn, 127.0.0.1, a free port) serves a copy of the AliExpress policy; every
shipped AliExpress scenario is sent as a JSON body, and the answer must be exactly what
`Policy.evaluate(...).to_json()` gives for the same facts (with each `?explain=`), a refusal
as a normal answer, invalid facts as a 422 with the library's diagnostics.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.policy import Policy
from tests.serve.conftest import SCENARIOS, scenario_facts, to_json_body
from tests.serve.server import ROOT, Client, ServerProcess, check_lines, log_lines

DECIDE = "/v1/policies/aliexpress_refunds/decide"


def _outcome(status: str) -> str:
    return "not_applicable" if status == "did not apply" else status.replace(" ", "_")


def expected_answers(policy: Policy, facts: Any) -> dict[str, Any] | list[dict[str, Any]]:
    """What each `?explain=` should give, from the library; the diagnostics when invalid."""
    try:
        full = policy.evaluate(facts, file="<request>", prefix=()).to_json()
    except DiagnosticError as error:
        return [d.to_json() for d in error.diagnostics]
    if full["decision"] is None:  # a refusal: explained only when asked
        bare_refusal = {k: v for k, v in full.items() if k not in ("facts", "trace")}
        return {"full": full, "none": bare_refusal,
                "summary": {**bare_refusal, "trace_summary": []}}
    bare = policy.decider()(facts).to_json()
    trace = full["trace"]
    summary = [{"rule": r["rule"], "outcome": _outcome(r["status"])} for r in trace["rules"]]
    if trace["by_default"]:
        summary.append({"rule": "otherwise", "outcome": "decided"})
    return {"full": full, "none": bare, "summary": {**bare, "trace_summary": summary}}


def _plain(value: Any) -> Any:
    """Facts as the decision log keeps them: exact decimals as text."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("scenario", SCENARIOS,
                         ids=[str(p.relative_to(ROOT / "policies")) for p in SCENARIOS])
def test_every_scenario_gets_the_library_answer(
    scenario: Path, server: ServerProcess, aliexpress: Policy
) -> None:
    facts = scenario_facts(scenario)
    expected = expected_answers(aliexpress, facts)
    client = server.client()
    body = to_json_body(facts)
    for explain in ("full", "none", "summary"):
        reply = client.post(f"{DECIDE}?explain={explain}", body)
        if isinstance(expected, list):
            assert reply.status == 422, reply.body
            answer = reply.json()
            assert answer["diagnostics"] == expected
            assert answer["status"] == 422 and "decision-id" not in reply.headers
            continue
        assert reply.status == 200, reply.body
        assert reply.json() == expected[explain]
        assert reply.headers["decision-logged"] == "yes"
        assert len(reply.headers["decision-id"]) == 26
    client.close()


def test_default_explanation_is_what_policy_eval_gives(
    server: ServerProcess, aliexpress: Policy
) -> None:
    scenario = ROOT / "policies" / "aliexpress" / "scenarios" / "never_arrived_after_50_days.yaml"
    facts = scenario_facts(scenario)
    reply = server.client().post(DECIDE, to_json_body(facts))
    assert reply.status == 200
    assert reply.json() == aliexpress.evaluate(facts, file="<request>", prefix=()).to_json()


def test_amounts_are_exact_as_numbers_or_text(server: ServerProcess, aliexpress: Policy) -> None:
    facts_text = ('{"request": "goods_problem", "order_status": "sent", "paid": true, '
                  '"amount_paid": %s, "payment_method": "card", "days_since_sent": 20, '
                  '"goods_received": true, "problems": ["damaged"], "remedy": "partial_refund",'
                  ' "requested_partial_amount": %s, "evidence": ["photo", "video"]}')
    client = server.client()
    for paid, partial in (("24.90", "24.89"), ('"24.90"', '"24.89"'), ("2.490e1", "0.01"),
                          ("10000000000000000.01", "10000000000000000.00")):
        body = facts_text % (paid, partial)
        facts = json.loads(body, parse_float=Decimal)
        reply = client.post(f"{DECIDE}?explain=none", body)
        assert reply.status == 200, reply.body
        expected = aliexpress.decider()(facts).to_json()
        assert reply.json() == expected


def test_decide_many_answers_each_in_order_and_logs_each(
    server: ServerProcess, aliexpress: Policy
) -> None:
    chosen = SCENARIOS[:12]
    fact_sets = [scenario_facts(p) for p in chosen]
    valid = [f for f in fact_sets if not isinstance(expected_answers(aliexpress, f), list)]
    body = b"[" + b",".join(to_json_body(f) for f in valid) + b"]"
    reply = server.client().post("/v1/policies/aliexpress_refunds/decide-many?explain=summary",
                                 body)
    assert reply.status == 200, reply.body
    answer = reply.json()
    assert answer["results"] == [expected_answers(aliexpress, f)["summary"]  # type: ignore[call-overload]
                                 for f in valid]
    assert len(set(answer["decision_ids"])) == len(valid)
    records = {r["decision_id"]: r for r in check_lines(log_lines(server.cwd / "decision-logs"))}
    for decision_id, facts in zip(answer["decision_ids"], valid, strict=True):
        assert records[decision_id]["facts"] == _masked(_plain(facts))


def _masked(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: ("<masked>" if k == "currency" else v) for k, v in facts.items()}


def test_decide_many_with_an_invalid_fact_set_decides_none(server: ServerProcess) -> None:
    good = {"request": "cancel_order", "order_status": "awaiting_payment", "paid": False}
    before = len(log_lines(server.cwd / "decision-logs"))
    reply = server.client().post("/v1/policies/aliexpress_refunds/decide-many",
                                 [good, {**good, "paid": "no"}, good, {**good, "colour": 1}])
    assert reply.status == 422
    paths = [d["path"] for d in reply.json()["diagnostics"]]
    assert paths == ["$[1].paid", "$[3].colour"]
    assert len(log_lines(server.cwd / "decision-logs")) == before


def test_every_line_is_the_decision_the_client_got(server: ServerProcess,
                                                   aliexpress: Policy) -> None:
    client = server.client()
    sent: dict[str, Any] = {}
    for scenario in SCENARIOS[::7]:
        facts = scenario_facts(scenario)
        reply = client.post(f"{DECIDE}?explain=none", to_json_body(facts))
        if reply.status == 200:
            sent[reply.headers["decision-id"]] = (facts, reply.json())
    assert sent
    records = {r["decision_id"]: r for r in check_lines(log_lines(server.cwd / "decision-logs"))}
    sha = aliexpress.checked.source.text.encode("utf-8")
    import hashlib

    for decision_id, (facts, answer) in sent.items():
        line = records[decision_id]
        assert line["result"] == answer  # the form without the explanation
        assert line["policy"] == {"name": "aliexpress_refunds", "version": aliexpress.version,
                                  "sha256": hashlib.sha256(sha).hexdigest()}
        assert line["facts"] == _masked(_plain(facts))
        assert line["masked"] == (["currency"] if "currency" in facts else [])


def test_listing_status_schema_and_openapi(server: ServerProcess, aliexpress: Policy) -> None:
    from openapi_spec_validator import validate

    client = server.client()
    listing = client.get("/v1/policies").json()
    assert [p["name"] for p in listing["policies"]] == ["aliexpress_refunds", "late_delivery"]
    first = listing["policies"][0]
    assert first["file"] == "aliexpress/refund.policy" and first["state"] == "serving"
    assert first["version"] == aliexpress.version and first["title"] == aliexpress.title
    status = client.get("/v1/policies/aliexpress_refunds").json()
    assert status["state"] == "serving" and status["problems"] == []
    assert client.get("/v1/policies/aliexpress_refunds/schema").json() == aliexpress.schema()
    document = client.get("/openapi.json").json()
    validate(document)  # a real OpenAPI 3.1 validator
    decide = document["paths"]["/v1/policies/aliexpress_refunds/decide"]["post"]
    schema_ref = decide["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]] == aliexpress.schema()


def test_health_ready_and_metrics(server: ServerProcess) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    client = server.client()
    assert client.get("/health").json() == {"status": "alive"}
    ready = client.get("/ready")
    assert ready.status == 200 and ready.json()["ready"] is True
    reply = client.post(f"{DECIDE}?explain=none", {"request": "cancel_order", "paid": False,
                                                   "order_status": "awaiting_payment"})
    assert reply.status == 200
    decision = reply.json()["decision"]
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(metrics.body.decode())}
    decided = {(s.labels["policy"], s.labels["outcome"]): s.value
               for s in families["policy_decisions"].samples}
    assert decided[("aliexpress_refunds", decision)] >= 1
    latency = families["policy_decision_duration_seconds"]
    counts = [s.value for s in latency.samples if s.name.endswith("_count")]
    assert counts and counts[0] >= 1
    assert [s.value for s in families["policy_decision_log_healthy"].samples] == [1]
    writes = families["policy_decision_log_writes"].samples[0].value
    assert writes >= 1


BAD_REQUESTS = [
    # (what, path, body, status, code, path of the problem)
    ("malformed JSON", DECIDE, b'{"paid": tru}', 400, "E501", None),
    ("not UTF-8", DECIDE, b'{"request": "\xff"}', 400, "E501", "$"),
    ("a key twice", DECIDE, b'{"paid": true, "paid": false}', 400, "E501", "$"),
    ("NaN", DECIDE, b'{"amount_paid": NaN}', 400, "E501", "$"),
    ("empty", DECIDE, b"", 400, "E501", "$"),
    ("deep nesting", DECIDE, b'{"problems": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "E502",
     "$"),
    ("a number of many digits", DECIDE, b'{"amount_paid": 1e999999999}', 400, "E502",
     "$.amount_paid"),
    ("an array for decide", DECIDE, b"[]", 422, "E503", "$"),
    ("an object for decide-many", "/v1/policies/aliexpress_refunds/decide-many", b"{}", 422,
     "E503", "$"),
    ("a number in decide-many", "/v1/policies/aliexpress_refunds/decide-many", b"[{}, 3]", 422,
     "E503", "$[1]"),
    ("a wrong type", DECIDE, b'{"request": "cancel_order", "paid": "yes", '
                             b'"order_status": "sent"}', 422, "E304", "$.paid"),
    ("an unknown fact", DECIDE, b'{"request": "cancel_order", "paid": true, '
                                b'"order_status": "sent", "colour": "red"}', 422, "E305",
     "$.colour"),
    ("null for a required fact", DECIDE, b'{"request": "cancel_order", "paid": null, '
                                         b'"order_status": "sent"}', 422, "E314", "$.paid"),
    ("a float for a whole number", DECIDE, b'{"request": "goods_not_received", "paid": true, '
                                           b'"order_status": "sent", '
                                           b'"days_since_sent": 1.5}', 422, "E304",
     "$.days_since_sent"),
    ("an unknown policy", "/v1/policies/aliexpres_refunds/decide", b"{}", 404, "E504", None),
    ("a wrong explain", DECIDE + "?explain=all", b"{}", 400, "E509", None),
    ("no such endpoint", "/v1/decide", b"{}", 404, "E509", None),
]


@pytest.mark.parametrize(("what", "path", "body", "status", "code", "where"), BAD_REQUESTS,
                         ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_get_diagnostics_never_a_traceback(
    server: ServerProcess, what: str, path: str, body: bytes, status: int, code: str,
    where: str | None
) -> None:
    reply = server.client().post(path, body)
    assert reply.status == status, reply.body
    answer = reply.json()
    assert answer["format"] == "policy-engine/error" and answer["status"] == status
    assert code in [d["code"] for d in answer["diagnostics"]]
    if where is not None:
        assert where in [d["path"] for d in answer["diagnostics"]]
    text = reply.body.decode()
    assert "Traceback" not in text and str(server.cwd) not in text and str(ROOT) not in text


def test_too_large_bodies_are_refused_before_they_are_read(server: ServerProcess) -> None:
    client = server.client()
    huge = b'{"tags": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    reply = client.post(DECIDE, huge)
    assert reply.status == 413 and reply.json()["diagnostics"][0]["code"] == "E502"
    # Without a Content-Length (chunked), reading stops at the limit.
    connection = Client(server.port)
    import http.client

    raw = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    raw.request("POST", DECIDE, body=iter([huge[i:i + 65536]
                                           for i in range(0, len(huge), 65536)]),
                encode_chunked=True)
    response = raw.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["diagnostics"][0]["code"] == "E502"
    raw.close()
    connection.close()


def test_wrong_method_is_a_diagnostic(server: ServerProcess) -> None:
    reply = server.client().get(DECIDE)
    assert reply.status == 405
    assert reply.json()["diagnostics"][0]["code"] == "E509"
    assert "POST" in reply.headers["allow"]


def test_conflicting_files_are_not_served_and_say_why(tmp_path: Path) -> None:
    from tests.serve.server import serving

    folder = tmp_path / "policies"
    (folder / "a").mkdir(parents=True)
    text = (ROOT / "policies" / "examples" / "late_delivery.policy").read_text()
    (folder / "a" / "late.policy").write_text(text)
    (folder / "b.policy").write_text(text)
    (folder / "c.policy").write_text((ROOT / "policies" / "examples" / "refund.policy")
                                     .read_text())
    with serving(["policies", "--no-decision-log"], tmp_path) as running:
        client = running.client()
        reply = client.post("/v1/policies/late_delivery/decide", {})
        assert reply.status == 409 and reply.json()["diagnostics"][0]["code"] == "E505"
        status = client.get("/v1/policies/late_delivery").json()
        assert status["state"] == "conflict" and status["serving"] is False
        assert sorted(p["file"] for p in status["problems"]) == ["a/late.policy", "b.policy"]
        assert client.get("/ready").status == 200  # example_refunds is served
        assert "E505" in running.stderr()
