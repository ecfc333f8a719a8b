"""The command's process options: the decision log on standard output, and several workers.

`--decision-log -` must leave standard output holding the decision log's lines and nothing
else (uvicorn's access lines and the server's messages go to standard error), and `--workers
2` must answer with the library's decisions from every worker, log each one in the folder,
and stop every worker on SIGTERM.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from policy_engine.policy import Policy
from tests.serve.conftest import SCENARIOS, policy_folder, scenario_facts, to_json_body
from tests.serve.server import check_lines, log_lines, serving

DECIDE = "/v1/policies/aliexpress_refunds/decide?explain=none"
MANY = "/v1/policies/aliexpress_refunds/decide-many?explain=none"


def _library(policy: Policy) -> Callable[[Any], dict[str, Any]]:
    """The library's answer for `?explain=none`: the decision without its explanation, or the
    refusal, whose diagnostics name the request as the server's do."""
    decide = policy.decider()

    def answer(facts: Any) -> dict[str, Any]:
        decision = policy.evaluate(facts, file="<request>", prefix=())
        return decision.to_json(explain=False) if decision.refused else decide(facts).to_json()

    return answer


def test_standard_output_holds_the_log_lines_and_nothing_else(
    tmp_path: Path, aliexpress: Policy
) -> None:
    policy_folder(tmp_path / "policies")
    facts = [scenario_facts(path) for path in SCENARIOS[:6]]
    decide = _library(aliexpress)
    with serving(["policies", "--decision-log", "-", "--access-log"], tmp_path) as server:
        client = server.client()
        ids = []
        for one in facts:
            reply = client.post(DECIDE, to_json_body(one))
            assert reply.status == 200, reply.body
            assert reply.json() == decide(one)
            ids.append(reply.headers["decision-id"])
        reply = client.post(MANY, b"[" + b",".join(to_json_body(f) for f in facts) + b"]")
        assert reply.status == 200, reply.body
        ids += reply.json()["decision_ids"]
        client.close()
        server.stop()
        stdout, stderr = server.stdout(), server.stderr()
    records = check_lines(stdout.splitlines())  # every line of standard output is a record
    assert [r["decision_id"] for r in records] == ids
    assert [r["result"] for r in records] == [decide(f) for f in facts * 2]
    assert "POST /v1/policies/aliexpress_refunds/decide" in stderr  # the access log
    assert not (tmp_path / "decision-logs").exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_several_workers_answer_log_and_stop_together(tmp_path: Path, aliexpress: Policy) -> None:
    policy_folder(tmp_path / "policies")
    facts = [scenario_facts(path) for path in SCENARIOS[:20]]
    decide = _library(aliexpress)
    ids = []
    with serving(["policies", "--workers", "2"], tmp_path) as server:
        for _ in range(4):  # new connections, which the workers share
            client = server.client()
            for one in facts:
                reply = client.post(DECIDE, to_json_body(one))
                assert reply.status == 200, reply.body
                assert reply.json() == decide(one)
                ids.append(reply.headers["decision-id"])
            client.close()
        status = server.stop()
        stderr = server.stderr()
    assert status in (0, -15), stderr
    records = check_lines(log_lines(tmp_path / "decision-logs"))
    assert sorted(r["decision_id"] for r in records) == sorted(ids)
    # Each worker writes files of its own, named with its process id; all are gone now.
    workers = {int(p.name.split("-")[2]) for p in (tmp_path / "decision-logs").iterdir()}
    assert server.process.pid not in workers
    assert not [pid for pid in workers if _alive(pid)]
    assert stderr.count("decision log closed") == 2, stderr


def test_the_log_on_standard_output_needs_a_single_worker(tmp_path: Path) -> None:
    policy_folder(tmp_path / "policies")
    done = subprocess.run([sys.executable, "-m", "policy_engine", "serve", "policies",
                           "--decision-log", "-", "--workers", "2", "--port", "0"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "--decision-log - writes to standard output" in done.stderr
    assert done.stdout == ""
