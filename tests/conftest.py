"""Shared test configuration: hypothesis profiles, and the one command that rewrites every
expected output (`python -m pytest --update-expected`)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers.examples import PROFILE, examples

# Tests that do not set their own count draw this many examples.
for _name in ("quick", "standard", "thorough"):
    settings.register_profile(_name, max_examples=examples(100) if _name == PROFILE else 100,
                              deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(PROFILE)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-expected", action="store_true", default=False,
        help="Rewrite every expected output instead of comparing with it: the golden files, "
             "the .expected files of tests/cases and the command examples in docs/; then "
             "review the diff like code.")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--update-expected"):
        os.environ["UPDATE_EXPECTED"] = "1"  # tests/helpers/cases.py
        os.environ["TUTORIAL_UPDATE"] = "1"  # tests/test_tutorial.py
        config.option.update_snapshots = True  # syrupy's --snapshot-update: golden/


def pytest_sessionstart(session: pytest.Session) -> None:
    if session.config.getoption("--update-expected"):
        from tests.helpers.doc_examples import update

        for path in update():
            print(f"updated {path}")
