"""Fixtures of the serve tests: a folder of policies to serve, and a running server over it.

Every expected answer is computed with the library (`Policy.evaluate`, `Decision.to_json`) on
the same policy text, loaded under the name the server shows (its path inside the folder).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from policy_engine.policy import Policy
from policy_engine.scenarios.yaml_data import read_yaml_file
from tests.serve.server import ROOT, ServerProcess, serving

ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"
LATE = ROOT / "policies" / "examples" / "late_delivery.policy"
SCENARIOS = sorted((ROOT / "policies" / "aliexpress" / "scenarios").glob("**/*.yaml"))
_NUMBER = re.compile(r'"__number__([-+0-9.eE]+)"')


def policy_folder(folder: Path) -> Path:
    """A folder with the AliExpress and late-delivery policies, as a server would serve."""
    (folder / "aliexpress").mkdir(parents=True, exist_ok=True)
    (folder / "examples").mkdir(exist_ok=True)
    shutil.copy(ALIEXPRESS, folder / "aliexpress" / "refund.policy")
    shutil.copy(LATE, folder / "examples" / "late_delivery.policy")
    return folder


def library_policy(path: Path, shown: str) -> Policy:
    """The policy as the server loads it: the same text, the name it shows clients."""
    return Policy.from_text(path.read_text(encoding="utf-8"), shown)


def scenario_facts(path: Path) -> Any:
    data = read_yaml_file(str(path)).data
    assert isinstance(data, dict)
    return data["facts"]


def to_json_body(facts: Any) -> bytes:
    """Facts as a JSON body; Decimals as JSON numbers written exactly (never floats)."""
    def plain(value: object) -> object:
        if isinstance(value, Decimal):
            return f"__number__{value}"
        raise TypeError(type(value).__name__)

    return _NUMBER.sub(r"\1", json.dumps(facts, default=plain)).encode("utf-8")


@pytest.fixture(scope="module")
def served_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return policy_folder(tmp_path_factory.mktemp("served") / "policies")


@pytest.fixture(scope="module")
def aliexpress() -> Policy:
    return library_policy(ALIEXPRESS, "aliexpress/refund.policy")


@pytest.fixture(scope="module")
def server(served_folder: Path) -> Iterator[ServerProcess]:
    """One server for the module, deciding log in `decision-logs/` beside the policies."""
    with serving(["policies", "--mask", "currency"], served_folder.parent) as running:
        yield running
