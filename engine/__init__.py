"""A rules-as-data policy engine: policy files parsed, checked, compiled and explained."""

from __future__ import annotations

__version__ = "0.1.0"

from engine.diagnostics import Diagnostic, DiagnosticError  # noqa: E402
from engine.policy import Decision, Policy  # noqa: E402
from engine.runtime import EvaluationError  # noqa: E402

__all__ = ["Decision", "Diagnostic", "DiagnosticError", "EvaluationError", "Policy", "__version__"]
