"""Where things are: the repository root and the shipped policies, scenarios and cases."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The data-driven cases: a folder per kind, a policy (and its expected output) per case.
CASES = ROOT / "tests" / "cases"
#: Every policy shipped in policies/, sorted.
POLICY_FILES = sorted((ROOT / "policies").glob("**/*.policy"))
#: Every scenario shipped beside a policy, sorted.
SCENARIOS = sorted((ROOT / "policies").glob("*/scenarios/**/*.yaml"))
#: The AliExpress policy, which quotes the guide it declares as its source document.
ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"


def aliexpress_copy(folder: Path, text: str, name: str = "refund.policy") -> Path:
    """Writes `text` (the AliExpress policy, changed) to `folder / name` with the guide it
    quotes beside it, as in the repository: the copy loads as the original does."""
    source = folder / "source"
    if not source.exists():
        shutil.copytree(ALIEXPRESS.parent / "source", source)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
