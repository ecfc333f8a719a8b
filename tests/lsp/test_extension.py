"""The VS Code extension's client (editors/vscode/extension.js), activated under Node with
VS Code's API and the language client replaced by recording stand-ins: how it starts
`policy lsp`, for which documents, and what it tells the author when the server cannot start.
Skips without Node, unless POLICY_ENGINE_REQUIRE_NODE=1 (set by .ci/run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from tests.helpers.paths import ROOT

ACTIVATE = ROOT / "editors" / "vscode" / "test" / "activate.js"


def _activate(settings: dict[str, Any]) -> dict[str, Any]:
    if shutil.which("node") is None:
        if os.environ.get("POLICY_ENGINE_REQUIRE_NODE") == "1":
            pytest.fail("POLICY_ENGINE_REQUIRE_NODE=1 but node is not installed")
        pytest.skip("node is not installed (.ci/run installs it from the system packages)")
    done = subprocess.run(["node", str(ACTIVATE), json.dumps(settings)], capture_output=True,
                          text=True, timeout=60, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_client_starts_policy_lsp_over_stdio() -> None:
    result = _activate({"server.args": ["lsp"], "server.debounce": 0.3})
    (started,) = result["started"]
    assert started["server"]["command"] == "policy"
    assert started["server"]["args"] == ["lsp"]  # the client library adds --stdio
    assert started["server"]["transport"] == 0
    assert started["server"]["options"] == {"cwd": "/work/repo"}
    languages = {(d["scheme"], d["language"]) for d in started["client"]["documentSelector"]}
    assert {("file", "policy"), ("untitled", "policy"), ("file", "yaml")} == languages
    assert started["client"]["initializationOptions"] == {"debounce": 0.3}
    assert "policyEngine.restartServer" in result["subscriptions"]
    assert result["messages"] == []


def test_the_server_path_setting_expands_the_workspace_folder() -> None:
    result = _activate({"server.path": "${workspaceFolder}/.venv/bin/policy"})
    assert result["started"][0]["server"]["command"] == "/work/repo/.venv/bin/policy"
    assert result["started"][0]["server"]["args"] == ["lsp"]


def test_a_server_that_cannot_start_says_what_to_install() -> None:
    result = _activate({"fail": True})
    (message,) = result["messages"]
    assert "pip install 'policy-engine[lsp]'" in message
    assert "policyEngine.server.path" in message
