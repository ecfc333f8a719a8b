"""Static analysis: seeded faults are found, and every witness proves its finding on `policy eval`.

The cases in tests/cases/analysis/ are policies with one fault each and an `expect.yaml` that
names the findings (code and rule) the analysis must report. Every witness the analysis gives
is written as a scenario and run through the same path as `policy eval`: its expectation must
be met, so a finding without a true witness fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from policy_engine import Policy
from policy_engine.analysis.lint import Finding, lint, write_witnesses
from policy_engine.analysis.symbolic_diff import symbolic_diff, write_change_witnesses
from policy_engine.cli import cli
from policy_engine.core.diagnostics import Severity
from policy_engine.scenarios.runner import run_scenario
from tests.helpers.paths import aliexpress_copy

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "analysis"
ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"
SHIPPED = sorted([*ROOT.glob("policies/**/*.policy"), ROOT / "benchmarks" / "reference.policy"])


def _witness_runs(tmp_path: Path, policy_path: Path, finding: Finding) -> None:
    """The finding's witness, saved as a scenario, meets its expectation."""
    assert finding.witness is not None, finding.diagnostic.render()
    scenario = tmp_path / "witness.yaml"
    scenario.write_text(yaml.safe_dump(finding.witness.scenario(str(policy_path))),
                        encoding="utf-8")
    result = run_scenario(str(scenario))
    assert result.met, (finding.diagnostic.render(), result.mismatches)


def _case_ids() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", _case_ids())
def test_seeded_fault_is_found_with_a_witness(case: str, tmp_path: Path) -> None:
    folder = CASES / case
    expected: dict[str, Any] = yaml.safe_load((folder / "expect.yaml").read_text())
    policy_path = folder / "policy.policy"
    report = lint(Policy.load(str(policy_path)).checked)
    found = {(f.code, _rule_named(f)) for f in report.findings}
    for item in expected["findings"]:
        assert (item["code"], item.get("rule")) in found, (
            f"{case}: no {item['code']} for {item.get('rule')}; found {sorted(found)}")
    unexpected = {code for code, _ in found} - {i["code"] for i in expected["findings"]} \
        - set(expected.get("also", [])) - {"N107"}  # most cases also have a gap to a default
    assert not unexpected, f"{case}: unexpected findings {unexpected}"
    for finding in report.findings:
        if finding.code in {i["code"] for i in expected["findings"]} and finding.code not in (
                "W108", "W110"):
            _witness_runs(tmp_path, policy_path, finding)


def _rule_named(finding: Finding) -> str | None:
    match = re.search(r"(?:rule|advisory) '([^']+)'", finding.diagnostic.message)
    return match.group(1) if match else None


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_shipped_policies_have_no_unintended_findings(path: Path, tmp_path: Path) -> None:
    """Warnings are faults; notes (gaps reaching an explicit default) are acknowledged."""
    report = lint(Policy.load(str(path)).checked)
    warnings = [f.diagnostic.render() for f in report.findings
                if f.diagnostic.severity is Severity.WARNING]
    assert warnings == []
    for finding in report.findings:
        if finding.witness is not None:
            _witness_runs(tmp_path, path, finding)


# ---------------------------------------------------------------- seeded faults in AliExpress


def _aliexpress_with(tmp_path: Path, edit: Any) -> Path:
    text = ALIEXPRESS.read_text(encoding="utf-8")
    changed = edit(text)
    assert changed != text
    return aliexpress_copy(tmp_path, changed)


def _rule_block(text: str, rule_id: str) -> str:
    start = text.index(f"rule {rule_id} ")
    end = text.index("\n\n", start)
    return text[start:end]


def _findings(path: Path, code: str) -> list[Finding]:
    return [f for f in lint(Policy.load(str(path)).checked).findings if f.code == code]


def test_aliexpress_duplicated_rule_is_shadowed(tmp_path: Path) -> None:
    def duplicate(text: str) -> str:
        block = _rule_block(text, "R15_wait")
        return text.replace(block, block + "\n\n" + block.replace("R15_wait", "R15_wait_again"))

    path = _aliexpress_with(tmp_path, duplicate)
    found, = [f for f in _findings(path, "W103") if "R15_wait_again" in f.diagnostic.message]
    assert "'R15_wait'" in found.diagnostic.message
    _witness_runs(tmp_path, path, found)


def test_aliexpress_contradictory_condition_is_found(tmp_path: Path) -> None:
    def contradict(text: str) -> str:
        block = _rule_block(text, "R16_window_expired")
        return text.replace(block, block.replace(
            "and window_expired", "and window_expired and days_since_sent < 10"))

    path = _aliexpress_with(tmp_path, contradict)
    found, = _findings(path, "W101")
    assert "R16_window_expired" in found.diagnostic.message
    assert "days_since_sent < 10" in found.diagnostic.message
    _witness_runs(tmp_path, path, found)


def test_aliexpress_rule_shadowed_by_an_earlier_one(tmp_path: Path) -> None:
    def shadow(text: str) -> str:
        block = _rule_block(text, "R22_partial_refund_strong")
        broad = ('rule any_goods_problem "Every goods problem"\n'
                 "  when request is goods_problem\n"
                 "  then open_dispute_full_refund with refund_kind = full\n"
                 '  because "seeded fault" (judgment)')
        return text.replace(block, broad + "\n\n" + block)

    path = _aliexpress_with(tmp_path, shadow)
    shadowed = {f.diagnostic.message.split("'")[1]: f for f in _findings(path, "W103")}
    assert {"R22_partial_refund_strong", "R22_partial_refund", "R18_full_refund_strong",
            "R18_full_refund"} <= set(shadowed)
    for finding in shadowed.values():
        assert "'any_goods_problem'" in finding.diagnostic.message
        _witness_runs(tmp_path, path, finding)


def test_aliexpress_removed_enumeration_case_shows_as_a_gap_and_in_the_diff(
        tmp_path: Path) -> None:
    def remove(text: str) -> str:
        return text.replace(_rule_block(text, "R25_dispute_lost") + "\n\n", "")

    path = _aliexpress_with(tmp_path, remove)
    gap, = _findings(path, "N107")
    assert "note: when request is dispute_closed\n" in gap.diagnostic.render() + "\n"
    _witness_runs(tmp_path, path, gap)
    old = Policy.load(str(ALIEXPRESS)).checked
    changes = {c.headline(): c for c in symbolic_diff(old, Policy.load(str(path)).checked)}
    # a lost dispute decides whatever the question: without the rule, each question's own
    # answer comes back, and a lost dispute asked as such is not covered
    change = changes["contact_support_low_chance -> refused (NOT_COVERED)"]
    assert change.common == "dispute_state is lost"
    assert "request is dispute_closed" in change.regions
    assert "contact_support_low_chance -> open_dispute_full_refund" in changes


def test_removed_case_without_a_default_is_a_warning(tmp_path: Path) -> None:
    source = (ROOT / "policies" / "examples" / "late_delivery.policy").read_text()
    path = tmp_path / "late.policy"
    source = source.replace(_rule_block(source, "express_late") + "\n\n", "")
    path.write_text(source[:source.index("otherwise refuse")])
    gap, = _findings(path, "W106")
    assert "shipping is express" in gap.diagnostic.render()
    _witness_runs(tmp_path, path, gap)


# ---------------------------------------------------------------- symbolic diff


def test_symbolic_diff_names_the_day_range_that_flips(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    new = _aliexpress_with(tmp_path, lambda t: t.replace("= days_sent > 45", "= days_sent > 30"))
    monkeypatch.chdir(tmp_path)  # the witnesses name ../refund.policy: in the working folder
    changes = symbolic_diff(Policy.load(str(ALIEXPRESS)).checked,
                            Policy.load(str(new)).checked)
    headlines = [c.headline() for c in changes]
    assert headlines == ["open_dispute_full_refund -> no_refund_window_expired",
                         "open_dispute_partial_refund -> no_refund_window_expired",
                         "wait -> no_refund_window_expired"]
    wait = changes[2]
    assert wait.common == ("request is goods_not_received and days_without_tracking <= 15 "
                           "and not delivery_deadline_near and dispute_state in [none, open]")
    assert wait.regions == ("31 <= days_since_sent <= 45", "days_since_sent is missing and "
                            "31 <= days_between(sent_date, as_of_date) <= 45")
    assert all(not c.approximate for c in changes)
    # each witness: the old policy gives the old decision, the new policy the new one
    folder = tmp_path / "witnesses"
    written = write_change_witnesses(changes, str(folder), str(new))
    assert len(written) == 3
    for path, change in zip(written, changes, strict=True):
        assert run_scenario(path).decision.decision == change.new.name  # type: ignore[union-attr]
        old_result = run_scenario(path, policy_path=str(ALIEXPRESS), ignore_expect=True)
        assert old_result.decision.decision == change.old.name  # type: ignore[union-attr]


def test_symbolic_diff_of_identical_policies_is_empty() -> None:
    policy = Policy.load(str(ALIEXPRESS)).checked
    assert symbolic_diff(policy, policy) == []


# ---------------------------------------------------------------- command line


def test_lint_command_writes_witnesses_that_policy_eval_accepts(tmp_path: Path) -> None:
    policy = CASES / "shadowed" / "policy.policy"
    runner = CliRunner()
    result = runner.invoke(cli, ["lint", str(policy), "--write-witnesses", str(tmp_path)])
    assert result.exit_code == 1, result.output  # warnings found
    written = sorted(tmp_path.glob("*.yaml"))
    assert written
    for path in written:
        evaluated = runner.invoke(cli, ["eval", str(path)])
        assert evaluated.exit_code == 0, evaluated.output


def test_lint_command_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    clean = runner.invoke(cli, ["lint", str(ROOT / "policies/examples/late_delivery.policy")])
    assert clean.exit_code == 0, clean.output
    broken = tmp_path / "broken.policy"
    broken.write_text("policy x\nrule r when then d because \"\"\n")
    assert runner.invoke(cli, ["lint", str(broken)]).exit_code == 2


def test_check_runs_the_analysis(tmp_path: Path) -> None:
    policy = CASES / "contradiction" / "policy.policy"
    result = CliRunner().invoke(cli, ["check", str(policy)])
    assert result.exit_code == 0
    assert "warning[W101]" in result.output
    quiet = CliRunner().invoke(cli, ["check", "--no-lint", str(policy)])
    assert "W101" not in quiet.output


def test_witnesses_written_by_lint_are_deterministic(tmp_path: Path) -> None:
    policy = CASES / "shadowed" / "policy.policy"
    texts = []
    for run in ("a", "b"):
        report = lint(Policy.load(str(policy)).checked)
        paths = write_witnesses(report, str(tmp_path / run), str(policy))
        texts.append([Path(p).read_text() for p in paths])
    assert texts[0] == texts[1]


@pytest.mark.parametrize("value", ["0o17", "-.5", "no", "Off", "1:30", "2024-01-01", "046",
                                   "1_000", ".inf", "~", "null", "plain", "two words", "#x",
                                   "a: b", "", "0x10", "1e3"])
def test_a_witness_reads_back_as_the_same_facts(value: str) -> None:
    from policy_engine.analysis.witnesses import Witness, dumps_witness
    from policy_engine.scenarios.yaml_data import load_yaml

    facts = {"note": value, "count": 3, "flag": False, "amount": "35.50"}
    witness = Witness("w", "a witness", facts, {"decision": "d", "rule": "r"})
    data = load_yaml(dumps_witness(witness, "p.policy"), "w.yaml").data
    assert isinstance(data, dict) and data["facts"] == facts and data["policy"] == "p.policy"
