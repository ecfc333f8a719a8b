"""Existing scenarios as fact sets: the first witnesses `policy diff --symbolic` tries.

A scenario that the two versions of a policy decide differently shows a change better than
any fact set the analysis makes up: it is a case someone wrote down. Only the facts are read
here; each version decides them (`analysis.witnesses.observe`).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.files import SCENARIO_SUFFIXES, Confinement, display_path, find_files
from policy_engine.scenarios.scenario_file import load_scenario


def read_scenarios(paths: Sequence[str], *, allow_outside: bool = False,
                   optional: bool = False,
                   ) -> tuple[list[tuple[str, dict[str, Any]]], list[Diagnostic]]:
    """The facts of every scenario file under `paths` (files or folders), as plain values.

    Args:
        optional: a path that does not exist gives nothing (the default folder beside a
            policy may be absent); else it cannot be read, like a broken file.

    Returns:
        (file as displayed, facts) for each readable scenario, in a stable order, and the
        diagnostics of those that could not be read (so none is skipped silently).
    """
    confinement = Confinement.here(paths, allow_outside=allow_outside)
    found: list[tuple[str, dict[str, Any]]] = []
    problems: list[Diagnostic] = []
    for path in find_files([p for p in paths if os.path.exists(p) or not optional],
                           SCENARIO_SUFFIXES):
        try:
            confinement.check(path, "the scenario", named=path in paths)
            scenario = load_scenario(path)
        except DiagnosticError as error:
            problems += error.diagnostics
            continue
        found.append((display_path(path), {name: _plain(value)
                                           for name, value in scenario.facts.items()}))
    return found, problems


def _plain(value: object) -> Any:
    """A fact as JSON has it (a date as its ISO text), so a witness prints and saves alike."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
