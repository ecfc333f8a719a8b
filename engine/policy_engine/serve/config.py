"""Serve configuration: everything `policy serve` is told, as one frozen value.

The command line builds a `ServeConfig`; the server reads nothing else. With several worker
processes, each worker is a fresh interpreter that uvicorn starts from an import string, so the
configuration travels to it as JSON in an environment variable (`to_environment`,
`from_environment`): tokens included, which is why they are never put on a command line.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

#: The environment variable that carries the configuration to worker processes.
ENVIRONMENT_VARIABLE = "POLICY_SERVE_CONFIG"

FsyncPolicy = Literal["always", "interval", "never"]
OnLogFailure = Literal["refuse", "answer"]
Explain = Literal["full", "summary", "none"]

#: `decision_log` when decisions are written to standard output.
STANDARD_OUTPUT = "-"


@dataclass(frozen=True)
class ServeConfig:
    """How `policy serve` runs. Every field has the command line's default.

    Args:
        policy_paths: the folders (walked for `.policy` files) and files served.
        host, port, workers: where to listen, and how many worker processes.
        decision_log: a folder for the decision log files, `-` for standard output, or None
            for no decision log.
        log_max_bytes: a decision log file is rotated before it grows past this.
        fsync: `always` (each line is on disk before its answer is sent), `interval` (every
            `fsync_interval` seconds) or `never` (when the operating system decides, and when
            a file is rotated or closed).
        on_log_failure: when a line cannot be written (a full disk): `refuse` answers 503 and
            gives no decision; `answer` gives the decision, keeps the line in memory (up to
            `log_pending_max` lines) and writes it once the log can be written again.
        mask: fact names whose values are replaced by `"<masked>"` in the decision log.
        tokens: bearer tokens that may use every policy (empty: no token needed, unless
            `policy_tokens` names some).
        policy_tokens: policy name to the tokens that may use that policy alone.
        max_body_bytes, max_depth, max_digits, max_batch: the limits on a request body: its
            size, how deeply it nests, the digits of one number, the fact sets of one
            decide-many request.
        reload_interval: how often (seconds) policy files are checked for changes.
        deleted_grace: how long (seconds) a policy whose file was deleted is still served.
        default_explain: the explanation when a request does not say (`?explain=`).
        access_log: uvicorn's line per request on standard error.
        graceful_timeout: on SIGTERM, how long (seconds) requests in flight may still take.
    """

    policy_paths: tuple[str, ...] = (".",)
    host: str = "127.0.0.1"
    port: int = 8181
    workers: int = 1
    decision_log: str | None = "decision-logs"
    log_max_bytes: int = 100 * 1024 * 1024
    fsync: FsyncPolicy = "interval"
    fsync_interval: float = 1.0
    on_log_failure: OnLogFailure = "refuse"
    log_pending_max: int = 10_000
    mask: tuple[str, ...] = ()
    tokens: tuple[str, ...] = field(default=(), repr=False)
    policy_tokens: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), repr=False)
    max_body_bytes: int = 1024 * 1024
    max_depth: int = 32
    max_digits: int = 100
    max_batch: int = 1000
    reload_interval: float = 1.0
    deleted_grace: float = 30.0
    default_explain: Explain = "full"
    access_log: bool = False
    graceful_timeout: float = 30.0

    @property
    def auth_required(self) -> bool:
        return bool(self.tokens or self.policy_tokens)

    def to_environment(self) -> str:
        """The configuration as JSON, for `ENVIRONMENT_VARIABLE`."""
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls, text: str | None = None) -> ServeConfig:
        """The configuration a parent process put in `ENVIRONMENT_VARIABLE`."""
        raw = json.loads(text if text is not None else os.environ[ENVIRONMENT_VARIABLE])
        values: dict[str, object] = {}
        for item in fields(cls):
            if item.name not in raw:
                continue
            value = raw[item.name]
            if item.name == "policy_tokens":
                value = tuple((name, tuple(tokens)) for name, tokens in value)
            elif isinstance(value, list):
                value = tuple(value)
            values[item.name] = value
        return cls(**values)  # type: ignore[arg-type]
