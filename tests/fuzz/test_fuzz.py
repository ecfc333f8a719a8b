"""The bounded fuzz run: a few hundred seeded inputs per front door, none may break a promise.

The same targets as the long campaign (`python -m tests.fuzz.campaign`, docs/fuzzing.md), with
fewer inputs: a quick run locally, four times as many in CI. A failure names the input, which
`python -m tests.fuzz.campaign --seed 2026 --only TARGET:NUMBER` runs again alone.
"""

from __future__ import annotations

import pytest

from tests.fuzz.campaign import campaign
from tests.fuzz.targets import TARGETS
from tests.helpers.examples import examples

SEED = 2026


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_no_input_breaks_a_promise(target: str) -> None:
    tallies = campaign([target], examples(300), SEED)
    tally = tallies[target]
    assert tally.inputs == examples(300)
    assert tally.failed == 0, "\n".join(tally.examples)
