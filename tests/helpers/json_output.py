"""Reading the JSON the commands print, each checked against its shipped schema first."""

from __future__ import annotations

import json
from typing import Any

from policy_engine import schemas


def parsed(text: str, schema: str) -> dict[str, Any]:
    """The JSON of a command's output, which must be valid for `schema` (eval, test, check,
    lint, diff...)."""
    data: dict[str, Any] = json.loads(text)
    problems = [f"{error.json_path}: {error.message}"
                for error in schemas.validator(schema).iter_errors(data)]
    assert problems == [], problems
    return data


def findings(text: str, schema: str = "check") -> list[dict[str, Any]]:
    """Every diagnostic of `policy check` (or every finding of `policy lint`) in its JSON
    output, over all the policies it names."""
    key = "diagnostics" if schema == "check" else "findings"
    return [item for policy in parsed(text, schema)["policies"] for item in policy[key]]
