"""Where things are: the repository root and the shipped policies, scenarios and cases."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The data-driven cases: a folder per kind, a policy (and its expected output) per case.
CASES = ROOT / "tests" / "cases"
#: Every policy shipped in policies/, sorted.
POLICY_FILES = sorted((ROOT / "policies").glob("**/*.policy"))
#: Every scenario shipped beside a policy, sorted.
SCENARIOS = sorted((ROOT / "policies").glob("*/scenarios/**/*.yaml"))
