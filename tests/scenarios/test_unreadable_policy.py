"""A scenario whose `policy:` names a file that cannot be read: the error names the scenario,
its `policy:` line, and the folder the path is read from (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.scenarios.runner import run_scenario

_POLICY = 'policy p\nfact n: whole number\ndecision d\notherwise d because "always"\n'


def _refused(path: str) -> tuple[str, str | None]:
    with pytest.raises(DiagnosticError) as caught:
        run_scenario(path)
    (diagnostic,) = caught.value.diagnostics
    return diagnostic.render().split("\n")[0], diagnostic.help


def test_a_path_from_the_working_folder_is_shown_from_the_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.policy").write_text(_POLICY, encoding="utf-8")
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "s.yaml").write_text("policy: p.policy\nfacts:\n  n: 1\n",
                                               encoding="utf-8")
    assert _refused("cases/s.yaml") == (
        "error[E301]: cases/s.yaml:1:9: $.policy: the policy it names, cases/p.policy, cannot "
        "be read: no such file",
        "a 'policy:' path is read from the scenario's folder, cases/, not from the folder the "
        "command runs in; from there, p.policy is ../p.policy",
    )
    # The fix the help gives works.
    (tmp_path / "cases" / "s.yaml").write_text("policy: ../p.policy\nfacts:\n  n: 1\n",
                                               encoding="utf-8")
    assert run_scenario("cases/s.yaml").decision.decision == "d"


def test_a_path_that_names_nothing_says_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text("facts: {}\npolicy: nowhere.policy\n", encoding="utf-8")
    assert _refused("s.yaml") == (
        "error[E301]: s.yaml:2:9: $.policy: the policy it names, nowhere.policy, cannot be "
        "read: no such file",
        "a 'policy:' path is read from the scenario's folder, ./, not from the folder the "
        "command runs in",
    )
