"""CLI: the `policy` command, a thin shell over the library API (`Policy`, `scenarios.runner`).

`shell` defines the command group, its exit codes and its error handling; each other module
adds the commands of one kind of work. Exit codes are a contract, documented in docs/cli.md.
"""

from __future__ import annotations

from policy_engine.cli import (
    asking,
    authoring,
    batching,
    deciding,
    editing,
    reviewing,
    serving,
    warehousing,  # policy sql, policy backtest
)
from policy_engine.cli.shell import (
    EXIT_EXPECTATION,
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_SIGNAL,
    EXIT_USAGE,
    cli,
    main,
)

__all__ = ["EXIT_EXPECTATION", "EXIT_INTERNAL", "EXIT_INVALID", "EXIT_OK", "EXIT_SIGNAL",
           "EXIT_USAGE", "asking", "authoring", "batching", "cli", "deciding", "editing",
           "main", "reviewing", "serving", "warehousing"]
