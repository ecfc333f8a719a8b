"""`policy lsp` as a command: its exit status, a clear message without the `lsp` extra, and
`policy eval` never loading any of it."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers.paths import ROOT

_SERVER = [sys.executable, "-m", "policy_engine", "lsp", "--stdio"]


def _frame(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _replies(output: bytes) -> list[dict[str, object]]:
    """The messages in the server's output, by their Content-Length headers."""
    found = []
    while output:
        header, _, rest = output.partition(b"\r\n\r\n")
        fields = dict(line.split(b":", 1) for line in header.split(b"\r\n"))
        length = int(fields[b"Content-Length"])
        found.append(json.loads(rest[:length]))
        output = rest[length:]
    return found


def _session(*messages: dict[str, object]) -> tuple[int, list[dict[str, object]], str]:
    done = subprocess.run(_SERVER, input=b"".join(_frame(m) for m in messages), cwd=ROOT,
                          capture_output=True, timeout=120, check=False)
    return done.returncode, _replies(done.stdout), done.stderr.decode("utf-8", "replace")


_INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
               "params": {"processId": None, "rootUri": None, "capabilities": {}}}
_INITIALIZED = {"jsonrpc": "2.0", "method": "initialized", "params": {}}
_SHUTDOWN = {"jsonrpc": "2.0", "id": 2, "method": "shutdown"}
_EXIT = {"jsonrpc": "2.0", "method": "exit"}


def test_shutdown_then_exit_ends_with_status_0() -> None:
    code, replies, stderr = _session(_INITIALIZE, _INITIALIZED, _SHUTDOWN, _EXIT)
    assert code == 0, stderr
    initialized = next(r for r in replies if r.get("id") == 1)
    capabilities = initialized["result"]["capabilities"]  # type: ignore[index]
    for provider in ("hoverProvider", "completionProvider", "definitionProvider",
                     "referencesProvider", "renameProvider", "documentFormattingProvider",
                     "codeActionProvider", "documentSymbolProvider"):
        assert capabilities[provider], provider
    assert initialized["result"]["serverInfo"]["name"] == "policy-engine"  # type: ignore[index]
    assert next(r for r in replies if r.get("id") == 2)["result"] is None


def test_exit_without_shutdown_ends_with_status_1() -> None:
    code, _, stderr = _session(_INITIALIZE, _INITIALIZED, _EXIT)
    assert code == 1, stderr


def test_without_the_lsp_extra_the_message_says_what_to_install() -> None:
    # pygls made unimportable, as in an installation without the extra.
    program = ("import sys; sys.modules['pygls'] = None; "
               "from policy_engine.cli import cli; cli.main(['lsp'])")
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 3  # EXIT_USAGE: the command cannot be used as installed
    assert "pip install 'policy-engine[lsp]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_policy_eval_never_loads_the_language_server() -> None:
    program = ("import sys; from policy_engine.cli import cli\n"
               "try:\n    cli.main(['eval', "
               "'policies/aliexpress/scenarios/never_arrived_after_50_days.yaml'])\n"
               "except SystemExit:\n    pass\n"
               "print(sorted(m for m in sys.modules if m.split('.')[0] in "
               "('pygls', 'lsprotocol', 'cattrs') or m.startswith('policy_engine.lsp')),"
               " file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.stderr.strip().splitlines()[-1] == "[]"
