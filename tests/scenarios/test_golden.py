"""Golden snapshots: every shipped scenario's decision and Markdown trace, one file each.

A policy change shows up in review as a diff under golden/. After an intended change, run
`pytest tests/test_golden.py --snapshot-update` and commit the rewritten files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine.explain.render import render_markdown
from policy_engine.scenarios.runner import PolicyCache, run_scenario
from tests.helpers.golden import ROOT, GoldenMarkdown

SCENARIOS = sorted((ROOT / "policies").glob("*/scenarios/**/*.yaml"))
_CACHE = PolicyCache()


def _case_id(path: Path) -> str:
    relative = path.relative_to(ROOT / "policies").with_suffix("")
    family, _, rest = relative.parts[0], relative.parts[1], relative.parts[2:]
    return "/".join((family, *rest))


@pytest.fixture
def golden(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(GoldenMarkdown)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[_case_id(p) for p in SCENARIOS])
def test_golden(scenario: Path, golden, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    result = run_scenario(str(scenario.relative_to(ROOT)), cache=_CACHE)
    assert result.met, result.mismatches
    assert render_markdown([result.report()]) == golden
