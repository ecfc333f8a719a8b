"""Hot reload: a good edit replaces the policy atomically, a broken one never drops it.

The policy file is rewritten in place (as an editor does) while client threads decide without
pause; every answer must be whole and of one version: version 1 always decides `one`, version
2 always `two`, and its log line names the text that decided it.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from tests.serve.server import Client, check_lines, log_lines, serving, wait_for

VERSION = """policy swap "Swapped while serving" version "{version}"
fact n: whole number
decision one
decision two
rule r when n >= 0 then {decision} because "version {version}"
otherwise one because "negative"
"""
V1 = VERSION.format(version="1", decision="one")
V2 = VERSION.format(version="2", decision="two")
BROKEN = V1.replace("when n >= 0", "when n >== 0")
DECIDE = "/v1/policies/swap/decide?explain=none"
ARGS = ["policies", "--reload-interval", "0.1", "--deleted-grace", "1"]


def _served_version(client: Client) -> Any:
    reply = client.get("/v1/policies/swap")
    return reply.json().get("version") if reply.status == 200 else None


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "swap.policy").write_text(V1, encoding="utf-8")
    return folder


def test_requests_during_reloads_never_fail_or_mix_versions(tmp_path: Path) -> None:
    path = _folder(tmp_path) / "swap.policy"
    answers: list[tuple[str, str]] = []
    failures: list[str] = []
    stop = threading.Event()

    def decide(client: Client) -> None:
        for _ in range(20_000):  # bounded; stopped much sooner
            if stop.is_set():
                break
            try:
                reply = client.post(DECIDE, {"n": 3})
            except OSError as error:
                failures.append(f"connection: {error}")
                continue
            if reply.status != 200:
                failures.append(f"{reply.status}: {reply.body[:200]!r}")
                continue
            answer = reply.json()
            answers.append((answer["policy"]["version"], answer["decision"]))
        client.close()

    with serving(ARGS, tmp_path) as server:
        threads = [threading.Thread(target=decide, args=(server.client(),)) for _ in range(4)]
        for thread in threads:
            thread.start()
        watcher = server.client()
        try:
            for round_ in range(6):
                text, version = (V2, "2") if round_ % 2 == 0 else (V1, "1")
                path.write_text(text, encoding="utf-8")
                wait_for(lambda v=version: _served_version(watcher) == v,  # type: ignore[misc]
                         f"version {version} to be served")
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        records = check_lines(log_lines(tmp_path / "decision-logs"))
    assert failures == []
    assert set(answers) == {("1", "one"), ("2", "two")}
    digests = {hashlib.sha256(V1.encode()).hexdigest(): "1",
               hashlib.sha256(V2.encode()).hexdigest(): "2"}
    for record in records:
        version = digests[record["policy"]["sha256"]]
        assert record["policy"]["version"] == version
        assert record["result"]["decision"] == ("one" if version == "1" else "two")
    assert len(records) == len(answers)


def test_a_broken_edit_keeps_the_last_good_version_serving(tmp_path: Path) -> None:
    path = _folder(tmp_path) / "swap.policy"
    with serving(ARGS, tmp_path) as server:
        client = server.client()
        path.write_text(BROKEN, encoding="utf-8")
        status = wait_for(lambda: (lambda s: s if s["state"] == "serving_last_good" else None)(
            client.get("/v1/policies/swap").json()), "the broken edit to be rejected")
        assert status["version"] == "1" and status["serving"] is True
        problem = status["problems"][0]
        assert problem["file"] == "swap.policy"
        assert problem["sha256"] == hashlib.sha256(BROKEN.encode()).hexdigest()
        first = problem["diagnostics"][0]
        assert first["code"].startswith("E0") and first["line"] == 5
        assert first["file"] == "swap.policy"
        reply = client.post(DECIDE, {"n": 1})
        assert reply.status == 200 and reply.json()["policy"]["version"] == "1"
        listing = client.get("/v1/policies").json()
        assert listing["problems"] == [{"file": "swap.policy", "name": "swap",
                                        "state": "rejected", "serving_last_good": True}]
        assert "swap.policy was rejected; the last good version keeps serving" in \
            server.stderr()
        path.write_text(V2, encoding="utf-8")
        wait_for(lambda: _served_version(client) == "2", "the fixed edit to be served")
        status = client.get("/v1/policies/swap").json()
        assert status["state"] == "serving" and status["problems"] == []
        metrics = client.get("/metrics").body.decode()
        assert 'policy_reloads_total{worker=' in metrics
        assert 'policy="swap",result="rejected"} 1' in metrics
        assert 'policy="swap",result="applied"} 1' in metrics


def test_a_deleted_file_is_served_until_its_grace_ends(tmp_path: Path) -> None:
    path = _folder(tmp_path) / "swap.policy"
    with serving(ARGS, tmp_path) as server:
        client = server.client()
        path.unlink()
        status = wait_for(lambda: (lambda s: s if s.get("state") == "deleted" else None)(
            client.get("/v1/policies/swap").json()), "the deletion to be seen")
        assert status["served_until"] > status["deleted_at"]
        # Within the grace it still answers; after it, the policy is gone.
        wait_for(lambda: client.post(DECIDE, {"n": 1}).status == 404,
                 "the policy to stop being served")
        reply = client.post(DECIDE, {"n": 1})
        assert reply.json()["diagnostics"][0]["code"] == "E504"
        assert "swap.policy was deleted; swap is served for 1s more" in server.stderr()
        # A new file is picked up without a restart.
        (tmp_path / "policies" / "again.policy").write_text(V2, encoding="utf-8")
        wait_for(lambda: _served_version(client) == "2", "the new file to be served")


def test_a_broken_file_at_start_is_reported_and_the_others_served(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "broken.policy").write_text(BROKEN.replace("swap", "other"), encoding="utf-8")
    with serving(ARGS, tmp_path) as server:
        client = server.client()
        assert client.post(DECIDE, {"n": 1}).status == 200
        reply = client.post("/v1/policies/other/decide", {"n": 1})
        assert reply.status == 409 and reply.json()["diagnostics"][0]["code"] == "E505"
        status = client.get("/v1/policies/other").json()
        assert status["state"] == "rejected" and status["problems"][0]["file"] == \
            "broken.policy"
        assert "broken.policy:5:" in server.stderr()


def test_nothing_to_serve_is_an_error_before_listening(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "broken.policy").write_text(BROKEN, encoding="utf-8")
    for folder, code in (("policies", "error[E0"), ("empty", "error[E504]")):
        (tmp_path / "empty").mkdir(exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "policy_engine", "serve", folder,
                               "--port", "1"], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2, done.stderr
        assert code in done.stderr and "Traceback" not in done.stderr
