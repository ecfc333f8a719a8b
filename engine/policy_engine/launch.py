"""The `policy` command's entry point (the console script and `python -m policy_engine`).

Importing the commands, and with them the engine, makes tens of thousands of objects and no
garbage, and the collector's passes over them (and the one at exit) were a tenth of `policy
eval`'s start-up (issue 20). So the process's entry pauses the collector while it imports the
CLI, then moves everything imported to the collector's permanent generation (`gc.freeze`, as
servers do before forking): later passes no longer walk the modules, classes and functions
that live as long as the process. Only the process's own entry does this; importing the CLI
as a library leaves the collector alone.
"""

from __future__ import annotations

import gc


def main() -> None:
    """Runs the `policy` command."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        from policy_engine.cli import main as run
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    run()
