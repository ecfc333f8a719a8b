"""A real `policy serve` for tests: uvicorn on 127.0.0.1, a free port, always stopped.

`ServerProcess` runs the command in a subprocess (signals and `kill -9` need a process of its
own); `ServerThread` runs the application on uvicorn in a thread of the test process, for
tests that reach into it (a fault put in its way). Both wait for `/health` a bounded time, and
stop the server however the test ends. `Client` speaks HTTP/1.1 with the standard library.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "engine" / "policy_engine" / "schemas" / "decision-log.schema.json"
#: How long a server may take to start, or a condition to become true, before a test fails.
PATIENCE = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One keep-alive HTTP connection to the server (not shared between threads)."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | str | object | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port,
                                                              timeout=self.timeout)
            try:
                self._connection.request(method, path, body=body, headers=headers or {})
                response = self._connection.getresponse()
                data = response.read()
            except (ConnectionError, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
                continue
            reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                          data)
            if response.getheader("connection", "").lower() == "close":
                self.close()
            return reply
        raise AssertionError("unreachable")

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, body: object, headers: dict[str, str] | None = None) -> Reply:
        return self.request("POST", path, body, headers)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __del__(self) -> None:  # a test that does not close its client leaks no socket
        self.close()


def wait_for(condition: Any, what: str, patience: float = PATIENCE) -> Any:
    """Polls `condition()` until it is truthy; fails the test after `patience` seconds."""
    deadline = time.monotonic() + patience
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _healthy(port: int) -> bool:
    client = Client(port, timeout=2)
    try:
        return client.get("/health").status == 200
    except OSError:
        return False
    finally:
        client.close()


class ServerProcess:
    """`policy serve ARGS --port P` in a subprocess, in folder `cwd`; its standard output and
    error go to files in `output` (`cwd` unless given: a test serving the repository itself
    must name a temporary folder, so that no file is left in the worktree)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None,
                 output: Path | None = None) -> None:
        self.port = free_port()
        self.cwd = cwd
        output = cwd if output is None else output
        self.stderr_path = output / f"server-{self.port}.err"
        self.stdout_path = output / f"server-{self.port}.out"
        command = [sys.executable, "-m", "policy_engine", "serve", *args,
                   "--port", str(self.port)]
        self._stdout = open(self.stdout_path, "wb")  # noqa: SIM115 - closed in stop()
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(command, cwd=cwd, stdout=self._stdout,
                                        stderr=self._stderr, stdin=subprocess.DEVNULL,
                                        env={**os.environ, **(env or {})})
        try:
            wait_for(lambda: self.process.poll() is not None or _healthy(self.port),
                     "the server to start")
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n"
                                     f"{self.stderr()}")
        except BaseException:
            self.stop()
            raise

    def client(self) -> Client:
        return Client(self.port)

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> bytes:
        return self.stdout_path.read_bytes()

    def signal(self, number: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(number)

    def wait(self, timeout: float = PATIENCE) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> int | None:
        """Stops the server (SIGTERM, then SIGKILL after a while); returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        self._stdout.close()
        self._stderr.close()
        return self.process.returncode


@contextmanager
def serving(args: list[str], cwd: Path, env: dict[str, str] | None = None,
            output: Path | None = None) -> Iterator[ServerProcess]:
    server = ServerProcess(args, cwd, env, output)
    try:
        yield server
    finally:
        server.stop()


class ServerThread:
    """The application of `config` on uvicorn in a thread of this process."""

    def __init__(self, config: Any) -> None:
        import uvicorn

        from policy_engine.serve.app import create_app

        self.port = free_port()
        self.app = create_app(config)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="test-server", daemon=True)
        self.thread.start()
        try:
            wait_for(lambda: not self.thread.is_alive() or _healthy(self.port),
                     "the server thread to start")
            assert self.thread.is_alive(), "the server thread died while starting"
        except BaseException:
            self.stop()
            raise

    def client(self) -> Client:
        return Client(self.port)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@contextmanager
def serving_in_thread(config: Any) -> Iterator[ServerThread]:
    server = ServerThread(config)
    try:
        yield server
    finally:
        server.stop()


def log_lines(folder: Path) -> list[bytes]:
    """Every line of every decision log file in `folder`, each with its line break checked:
    a file must end in one (no torn line)."""
    lines: list[bytes] = []
    for path in sorted(folder.glob("decisions-*.jsonl")):
        data = path.read_bytes()
        assert data == b"" or data.endswith(b"\n"), f"{path.name} ends in a torn line"
        lines += data.splitlines()
    return lines


def log_validator() -> Any:
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def check_lines(lines: list[bytes]) -> list[dict[str, Any]]:
    """Parses decision log lines and validates each against the shipped schema."""
    validator = log_validator()
    records = []
    for number, line in enumerate(lines, 1):
        record = json.loads(line)
        problems = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(record)]
        assert problems == [], f"line {number}: {problems}"
        assert list(record) == ["format", "format_version", "decision_id", "time", "policy",
                                "facts", "masked", "result", "trace_summary"]
        records.append(record)
    return records
