"""Running the server: uvicorn on the configured address, one process or several.

With one worker the application is built in this process, so a policy folder with nothing to
serve is reported before anything listens. With several, uvicorn starts each worker from the
import string of `app_from_environment`, and the configuration reaches them through the
environment. uvicorn handles SIGTERM and SIGINT: it stops accepting connections, lets the
requests in flight finish (up to `graceful_timeout` seconds), then the application closes
the decision log (lines written, synced to disk).
"""

from __future__ import annotations

import copy
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.serve.config import ENVIRONMENT_VARIABLE, ServeConfig

if TYPE_CHECKING:
    from starlette.applications import Starlette

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """The server's own messages (reloads, internal errors with their ids, the decision
    log's state) on standard error, beside uvicorn's."""
    logger = logging.getLogger("policy_engine.serve")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def check_servable(config: ServeConfig) -> list[Diagnostic]:
    """Loads the policies once; returns the problems of the files that cannot be served.

    Raises:
        DiagnosticError: no policy at all can be served (E504 when no file was found).
    """
    from policy_engine.serve.registry import Registry

    snapshot = Registry(config.policy_paths).scan()
    problems = [d for f in snapshot.files.values() if f.problem is not None
                for d in f.problem[0]]
    if not snapshot.served:
        if not snapshot.files:
            raise DiagnosticError([Diagnostic(
                "E504", "no policy file (*.policy) found in "
                        + ", ".join(config.policy_paths),
                help="name a folder that holds policy files, or a policy file")])
        raise DiagnosticError(problems)
    return problems


def app_from_environment() -> Starlette:
    """The application of a worker process: its configuration from the environment
    (`ServeConfig.to_environment`), as `policy serve --workers N` starts it."""
    from policy_engine.serve.app import create_app

    configure_logging()
    return create_app(ServeConfig.from_environment())


def _uvicorn_logging() -> dict[str, Any]:
    """uvicorn's logging, with its access lines on standard error: standard output may be
    the decision log (`--decision-log -`), which must hold nothing but its lines."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return config


def run(config: ServeConfig) -> None:
    """Serves until SIGTERM or SIGINT."""
    import uvicorn

    configure_logging()
    common = {"host": config.host, "port": config.port, "access_log": config.access_log,
              "timeout_graceful_shutdown": config.graceful_timeout, "server_header": False,
              "log_level": "info", "lifespan": "on", "log_config": _uvicorn_logging()}
    if config.workers == 1:
        from policy_engine.serve.app import create_app

        uvicorn.run(create_app(config), **common)  # type: ignore[arg-type]
        return
    os.environ[ENVIRONMENT_VARIABLE] = config.to_environment()
    uvicorn.run("policy_engine.serve.running:app_from_environment", factory=True,
                workers=config.workers, **common)  # type: ignore[arg-type]
