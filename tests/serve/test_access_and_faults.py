"""Access with bearer tokens, per policy; and an internal error: a 500 with an id that is in
the server's log, never a traceback to the client."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from policy_engine.serve import deciding
from policy_engine.serve.auth import Access
from policy_engine.serve.config import ServeConfig
from tests.serve.conftest import policy_folder
from tests.serve.server import ROOT, serving, serving_in_thread

TOKENS = """tokens: [admin-token]
policies:
  late_delivery: [late-only]
"""
LATE = {"shipping": "express", "days_late": 2, "amount_paid": "59.00"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_guard_every_policy_or_some(tmp_path: Path) -> None:
    policy_folder(tmp_path / "policies")
    (tmp_path / "tokens.yaml").write_text(TOKENS, encoding="utf-8")
    with serving(["policies", "--token-file", "tokens.yaml", "--no-decision-log"],
                 tmp_path) as server:
        client = server.client()
        late = "/v1/policies/late_delivery/decide"
        ali = "/v1/policies/aliexpress_refunds/decide"
        for headers in ({}, _bearer("wrong"), {"Authorization": "Basic YWRtaW4="},
                        _bearer("")):
            reply = client.post(late, LATE, headers)
            assert reply.status == 401, headers
            assert reply.headers["www-authenticate"].startswith("Bearer")
            assert reply.json()["diagnostics"][0]["code"] == "E506"
        assert client.post(late, LATE, _bearer("admin-token")).status == 200
        assert client.post(late, LATE, _bearer("late-only")).status == 200
        refused = client.post(ali, {}, _bearer("late-only"))
        assert refused.status == 403 and refused.json()["diagnostics"][0]["code"] == "E506"
        listed = client.request("GET", "/v1/policies", headers=_bearer("late-only")).json()
        assert [p["name"] for p in listed["policies"]] == ["late_delivery"]
        document = client.request("GET", "/openapi.json", headers=_bearer("late-only")).json()
        assert list(document["components"]["securitySchemes"]) == ["bearer"]
        assert all("aliexpress" not in path for path in document["paths"])
        assert client.request("GET", "/metrics", headers=_bearer("late-only")).status == 403
        assert client.request("GET", "/metrics", headers=_bearer("admin-token")).status == 200
        assert client.get("/health").status == 200 and client.get("/ready").status == 200
        assert client.get("/openapi.json").status == 401


def test_a_token_file_with_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    policy_folder(tmp_path / "policies")
    (tmp_path / "tokens.yaml").write_text("tokens: admin\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "policy_engine", "serve", "policies",
                           "--token-file", "tokens.yaml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "error[E303]: tokens.yaml:1:9: $.tokens: expected a list of tokens" in done.stderr


def test_every_token_is_compared_whatever_matched() -> None:
    access = Access(["a" * 40, "b"], [("p", ["c"]), ("q", ["c", "d"])])
    grant = access.grant("Bearer c")
    assert grant is not None and not grant.every_policy and grant.policies == {"p", "q"}
    assert access.grant("bearer  b ") is not None
    assert access.grant("Bearer " + "a" * 39) is None
    assert Access([], []).grant(None) is not None  # no tokens: open


def test_an_internal_error_is_a_500_with_an_id_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    policy_folder(tmp_path / "policies")

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError(f"a bug, in {ROOT}")

    config = ServeConfig(policy_paths=(str(tmp_path / "policies"),), decision_log=None)
    with serving_in_thread(config) as server:
        monkeypatch.setattr("policy_engine.serve.app.decide", broken)
        with caplog.at_level(logging.ERROR, logger="policy_engine.serve"):
            reply = server.client().post("/v1/policies/late_delivery/decide", LATE)
        assert reply.status == 500
        answer = reply.json()
        error_id = answer["error_id"]
        assert answer["diagnostics"][0]["code"] == "E508" and error_id in \
            answer["diagnostics"][0]["message"]
        assert str(ROOT) not in reply.body.decode() and "Traceback" not in reply.body.decode()
        logged = [r for r in caplog.records if error_id in r.getMessage()]
        assert logged and logged[0].exc_info is not None  # the traceback is in the log
        assert "a bug" in str(logged[0].exc_info[1])
        # The server goes on answering.
        monkeypatch.setattr("policy_engine.serve.app.decide", deciding.decide)
        assert server.client().post("/v1/policies/late_delivery/decide", LATE).status == 200
