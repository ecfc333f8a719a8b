"""The bounded fuzz run: a few hundred seeded inputs per front door, none may break a promise.

The same targets as the long campaign (`python -m tests.fuzz.campaign`, docs/fuzzing.md), with
fewer inputs: a quick run locally, four times as many in CI. A failure names the input, which
`python -m tests.fuzz.campaign --seed 2026 --only TARGET:NUMBER` runs again alone.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.fuzz.campaign import campaign
from tests.fuzz.targets import TARGETS
from tests.helpers.examples import examples
from tests.helpers.paths import ROOT

SEED = 2026


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_no_input_breaks_a_promise(target: str) -> None:
    before, checkout = os.getcwd(), _checkout_files()
    tallies = campaign([target], examples(300), SEED)
    tally = tallies[target]
    assert tally.inputs == examples(300)
    assert tally.failed == 0, "\n".join(tally.examples)
    # The inputs work in a folder of their own: `policy fmt .` once rewrote the checkout.
    assert os.getcwd() == before
    assert _checkout_files() == checkout


def _checkout_files() -> dict[str, str]:
    """The policies and scenarios of the checkout, by path, with a digest of each."""
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in ("policies", "tests", "golden")
            for path in sorted((ROOT / folder).rglob("*"))
            if path.suffix in (".policy", ".yaml", ".json", ".jsonl") and path.is_file()}
