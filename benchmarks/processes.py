"""How the benchmarks start fresh processes: the environment they get and the launcher.

A child measures the engine as a user runs it, installed: Python may read and write its
bytecode caches (`PYTHONDONTWRITEBYTECODE` is dropped, as an installed wheel has compiled
modules), the checkout is on the path, and the cache of checked policies is on or off as asked.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Forks a command from a small shell rather than from this process: Linux keeps a process's
#: peak memory across `exec`, so a child forked from a big parent would report the parent's
#: peak as its own. The `exit` after the command keeps the shell from replacing itself with it.
FRESH = ("/bin/sh", "-c", '"$@"; exit $?', "sh") if os.path.exists("/bin/sh") else ()


def environment(*, cache: bool | None = None) -> dict[str, str]:
    """The environment of a child: bytecode caches allowed, the checkout importable, and the
    cache of checked policies on (`cache=True`), off (False) or as inherited (None)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if cache is not None:
        env["POLICY_ENGINE_CACHE"] = "1" if cache else "0"
    return env
