"""CLI: the `policy` command, a thin shell over the library API (`Policy`, `scenarios.runner`).

`shell` defines the command group, its exit codes and its error handling; each other module
adds the commands of one kind of work. Exit codes are a contract, documented in docs/cli.md.
"""

from __future__ import annotations

import gc

# Importing the commands (and with them the engine) makes tens of thousands of objects and no
# garbage; the collector's passes over them were a tenth of `policy eval`'s start-up (issue 20).
# Paused while importing only: whoever imports the CLI gets the collector back as it was.
_COLLECTING = gc.isenabled()
gc.disable()
try:
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
finally:
    if _COLLECTING:
        gc.enable()

__all__ = ["EXIT_EXPECTATION", "EXIT_INTERNAL", "EXIT_INVALID", "EXIT_OK", "EXIT_SIGNAL",
           "EXIT_USAGE", "asking", "authoring", "batching", "cli", "deciding", "editing",
           "main", "reviewing", "serving", "warehousing"]
