"""A full disk under the decision log: the server says so at /ready and in its metrics, and by
`--on-log-failure` refuses (503, E507) or answers and keeps the lines until there is room;
never a line silently dropped, never a torn one.

The disk is a real one: a tmpfs of 512 KiB mounted for the test (root is needed). Where it
cannot be mounted the test is skipped with the reason, unless POLICY_SERVE_STRICT=1 (set by
.ci/run), which makes that a failure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.conftest import policy_folder
from tests.serve.server import Client, check_lines, log_lines, serving, wait_for

DECIDE = "/v1/policies/aliexpress_refunds/decide?explain=none"
FACTS = {"request": "goods_not_received", "order_status": "sent", "paid": True,
         "amount_paid": "24.90", "payment_method": "card", "days_since_sent": 20,
         "days_without_tracking": 20, "goods_received": False}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "decision-logs"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs for the full-disk test: {done.stderr.strip()}"
        if os.environ.get("POLICY_SERVE_STRICT"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=60,
                       check=False)


def _fill(folder: Path, leave: int) -> Path:
    """Takes all the disk's space but `leave` bytes, in a file that can be removed later."""
    filler = folder / "filler.bin"
    stat = os.statvfs(folder)
    size = stat.f_bavail * stat.f_frsize - leave
    with open(filler, "wb") as file:
        file.write(b"\0" * max(0, size))
    return filler


def _metric(client: Client, name: str) -> float:
    for line in client.get("/metrics").body.decode().splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _decide_until(client: Client, status: int, received: list[str]) -> Client:
    for _ in range(2000):  # a few dozen lines fill what is left
        reply = client.post(DECIDE, FACTS)
        if reply.status == 200:
            received.append(reply.headers["decision-id"])
        if reply.status == status and (status != 200 or
                                       reply.headers["decision-logged"] == "pending"):
            return client
    raise AssertionError(f"never got {status}")


def test_refuse_mode_answers_503_until_there_is_room(tmp_path: Path, small_disk: Path) -> None:
    policy_folder(tmp_path / "policies")
    received: list[str] = []
    with serving(["policies", "--on-log-failure", "refuse"], tmp_path) as server:
        filler = _fill(small_disk, 40_000)
        client = server.client()
        _decide_until(client, 503, received)
        refused = client.post(DECIDE, FACTS)
        assert refused.status == 503 and refused.headers["retry-after"] == "5"
        diagnostic = refused.json()["diagnostics"][0]
        assert diagnostic["code"] == "E507" and "No space left on device" in diagnostic["message"]
        ready = client.get("/ready")
        assert ready.status == 503
        assert ready.json()["decision_log"]["state"] == "failing"
        assert _metric(client, "policy_decision_log_healthy") == 0
        assert _metric(client, "policy_decision_log_failures_total") >= 2
        assert client.get("/health").status == 200  # alive, just not ready
        filler.unlink()
        reply = client.post(DECIDE, FACTS)
        assert reply.status == 200 and reply.headers["decision-logged"] == "yes"
        received.append(reply.headers["decision-id"])
        assert client.get("/ready").status == 200
        assert _metric(client, "policy_decision_log_healthy") == 1
        assert "the decision log cannot be written: No space left on device" in server.stderr()
    records = check_lines(log_lines(small_disk))
    assert sorted(r["decision_id"] for r in records) == sorted(received)


def test_answer_mode_keeps_the_lines_and_writes_them_when_there_is_room(
    tmp_path: Path, small_disk: Path
) -> None:
    policy_folder(tmp_path / "policies")
    received: list[str] = []
    with serving(["policies", "--on-log-failure", "answer", "--fsync-interval", "0.1"],
                 tmp_path) as server:
        filler = _fill(small_disk, 40_000)
        client = server.client()
        _decide_until(client, 200, received)  # until an answer's line had to wait
        for _ in range(20):
            reply = client.post(DECIDE, FACTS)
            assert reply.status == 200 and reply.headers["decision-logged"] == "pending"
            received.append(reply.headers["decision-id"])
        assert client.get("/ready").status == 503
        assert _metric(client, "policy_decision_log_lines_pending") >= 21
        filler.unlink()
        wait_for(lambda: _metric(client, "policy_decision_log_lines_pending") == 0,
                 "the kept lines to be written")
        assert client.get("/ready").status == 200
        assert _metric(client, "policy_decision_log_lines_lost_total") == 0
    records = check_lines(log_lines(small_disk))
    assert sorted(r["decision_id"] for r in records) == sorted(received)
