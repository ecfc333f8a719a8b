"""`policy backtest` in one query (DuckDB) against the reference engine (Python) on generated
rows of every shipped policy: the same report, whole (transitions, counts, amounts,
examples with both explanations), from JSON Lines and from Parquet. Each policy is replayed
against a changed version where the project has one (the 45 -> 30 day window), else against
itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks.sql_rows import generate, write_jsonl, write_parquet
from policy_engine import Policy
from policy_engine.sql.backtest import backtest
from policy_engine.sql.reports import to_json
from tests.helpers.examples import examples
from tests.sql.helpers import ROOT, SHIPPED


def changed(path: Path, folder: Path) -> Path:
    """A version of a shipped policy that decides some rows otherwise, or the policy."""
    if path == ROOT / "policies" / "examples" / "refund.policy":
        return ROOT / "policies" / "examples" / "proposals" / "window_30_days.policy"
    text = path.read_text(encoding="utf-8")
    if "= days_sent > 45" in text:
        # Beside a copy of its folder: the policy quotes a source document next to it.
        shutil.copytree(path.parent, folder / "copy", ignore=shutil.ignore_patterns("*.jsonl"))
        new = folder / "copy" / path.name
        new.write_text(text.replace("= days_sent > 45", "= days_sent > 30"), encoding="utf-8")
        return new
    return path


def report(old: Path, new: Path, history: Path, engine: str, opened: Any = None
           ) -> dict[str, Any]:
    result = backtest(Policy.load(str(old)), Policy.load(str(new)), str(history),
                      old_name="old", new_name="new", engine=engine, examples=2,
                      opened=opened)
    data = to_json(result)
    del data["engine"]
    return data


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_one_query_reports_what_the_reference_engine_reports(path: Path,
                                                             tmp_path: Path) -> None:
    new = changed(path, tmp_path)
    rows = generate(Policy.load(str(path)), examples(1500), seed=17)
    write_jsonl(rows, tmp_path / "rows.jsonl")
    write_parquet(Policy.load(str(path)), rows, tmp_path / "rows.parquet")
    for name in ("rows.jsonl", "rows.parquet"):
        expected = report(path, new, tmp_path / name, "python")
        assert report(path, new, tmp_path / name, "duckdb") == expected, name
        assert expected["rows"] == len(rows)
    if new != path:
        assert expected["changed"] > 0
