"""A rules-as-data policy engine: policy files parsed, checked, compiled and explained."""

from __future__ import annotations

__version__ = "0.1.0"
