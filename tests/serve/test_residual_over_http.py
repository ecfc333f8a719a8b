"""`POST /v1/policies/{name}/residual`: partial evaluation over HTTP is the library's
`Policy.residual`, for a support tool that has half the facts (docs/partial.md)."""

from __future__ import annotations

import json

from policy_engine.policy import Policy
from tests.serve.server import ServerProcess

RESIDUAL = "/v1/policies/aliexpress_refunds/residual"


def test_the_answer_is_the_librarys_residual(server: ServerProcess, aliexpress: Policy) -> None:
    client = server.client()
    for known in ({"request": "goods_not_received", "paid": True, "dispute_state": "none"},
                  {"request": "goods_not_received", "paid": True, "dispute_state": "none",
                   "days_since_sent": 50}):
        reply = client.post(RESIDUAL, json.dumps(known).encode())
        assert reply.status == 200, reply.body
        assert reply.json() == json.loads(json.dumps(aliexpress.residual(known).to_json()))
    client.close()


def test_invalid_known_facts_get_the_diagnostics(server: ServerProcess) -> None:
    client = server.client()
    reply = client.post(RESIDUAL, b'{"request": "refund_please"}')
    assert reply.status == 422
    assert [d["code"] for d in reply.json()["diagnostics"]] == ["E304"]
    assert reply.json()["diagnostics"][0]["path"] == "$.request"
    client.close()


def test_the_openapi_document_lists_it(server: ServerProcess) -> None:
    client = server.client()
    paths = client.get("/openapi.json").json()["paths"]
    assert paths[RESIDUAL]["post"]["operationId"] == "residual_aliexpress_refunds"
    client.close()
