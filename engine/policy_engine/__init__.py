"""A rules-as-data policy engine: policy files parsed, checked, compiled and explained."""

from __future__ import annotations

__version__ = "0.1.0"

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError  # noqa: E402
from policy_engine.explain.decision import Decision  # noqa: E402
from policy_engine.policy import Policy  # noqa: E402

__all__ = ["Decision", "Diagnostic", "DiagnosticError", "Policy", "__version__"]
