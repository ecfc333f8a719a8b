"""How many examples a property test draws: few for quick local runs, many in CI.

The hypothesis profile is chosen by HYPOTHESIS_PROFILE (tests/conftest.py): `quick` (the
default, a quarter of each test's count), `standard` (each test's own count) or `thorough`
(four times it; .ci/run uses it). A property test writes `examples(N)` with its standard N.
"""

from __future__ import annotations

import os

PROFILES = {"quick": 0.25, "standard": 1.0, "thorough": 4.0}
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "quick")
if PROFILE not in PROFILES:
    raise ValueError(f"HYPOTHESIS_PROFILE must be one of {', '.join(PROFILES)}, got {PROFILE!r}")


def examples(standard: int) -> int:
    """The number of examples to draw, for a test that draws `standard` in the standard run."""
    return max(10, round(standard * PROFILES[PROFILE]))
