"""A rules-as-data policy engine: policy files parsed, checked, compiled and explained.

`Policy`, `Decision`, `Diagnostic` and `DiagnosticError` are imported when first used (PEP 562),
so `import policy_engine` alone imports nothing else: the `policy` command imports what its
commands need with the garbage collector paused (`launch.py`, issue 20).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
    from policy_engine.explain.decision import Decision
    from policy_engine.policy import Policy

#: Where each public name is defined.
_DEFINED_IN = {"Decision": "policy_engine.explain.decision",
               "Diagnostic": "policy_engine.core.diagnostics",
               "DiagnosticError": "policy_engine.core.diagnostics",
               "Policy": "policy_engine.policy"}


def __getattr__(name: str) -> Any:
    """Imports a public name on first use, then keeps it as an attribute of the package."""
    if name not in _DEFINED_IN:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_DEFINED_IN[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_DEFINED_IN})


__all__ = ["Decision", "Diagnostic", "DiagnosticError", "Policy", "__version__"]
