"""Tests for the `policy` command line: output formats, exit codes and error reporting.

Exit codes are a contract (docs/cli.md): 0 decided, 1 an expectation was not met, 2 an invalid
policy, scenario or fact set (or a refusal to decide), 3 a usage error. Errors name the file,
line and column and never show a Python traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from policy_engine.scenarios.scenario_file import load_scenario
from tests.helpers.cli import Run, invoker
from tests.helpers.json_output import findings, parsed

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "policies/examples/scenarios/refund/window_expired_day_46.yaml"
DELIVERY = "policies/examples/scenarios/delivery"
REFUND = "policies/examples/refund.policy"
SHIPPED_POLICIES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "policies").glob("**/*.policy"))

@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Run:
    """Runs `policy ARGS...` from the repository root."""
    return invoker(ROOT, monkeypatch)


@pytest.fixture
def run_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Runs `policy ARGS...` from a scratch folder, so file names in messages are short."""
    return invoker(tmp_path, monkeypatch)


def write(folder: Path, name: str, text: str) -> str:
    (folder / name).write_text(text, encoding="utf-8")
    return name


SHIPPING = """policy shipping_refund "Shipping refunds"
version "1.0.0"

fact shipping: one of standard, express
fact days_late: whole number from 0 to 365
fact amount_paid: optional amount at least 0
fact shipping_fee: amount at least 0 default 0

decision nothing_owed
decision refund_shipping
output refund_amount: amount

rule express_late when shipping is express and days_late >= 1
  then refund_shipping with refund_amount = shipping_fee
  because "express shipping is paid for speed"

otherwise nothing_owed because "nothing is owed"
"""


def delivery_scenario(folder: Path, *, facts: str = "shipping: express\n  days_late: 1\n"
                      "  amount_paid: \"59.00\"\n  shipping_fee: \"7.50\"\n",
                      expect: str = "", policy: str | None = "shipping.policy") -> str:
    """Writes shipping.policy and a scenario for it; `policy=None` leaves `policy:` out."""
    write(folder, "shipping.policy", SHIPPING)
    policy_line = f"policy: {policy}\n" if policy is not None else ""
    return write(folder, "scenario.yaml", f"{policy_line}facts:\n  {facts}{expect}")


# ---------------------------------------------------------------- deciding


def test_eval_prints_the_decision_as_text(run: Run) -> None:
    result = run("eval", SCENARIO)
    assert result.exit_code == 0
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"scenario: {SCENARIO}"
    assert "decision: no_refund_window_expired" in lines
    assert any(line.startswith("rule:     window_expired ") for line in lines)
    assert "expect:   met" in lines


def test_eval_prints_the_documented_json(run: Run) -> None:
    result = run("eval", "--format", "json", SCENARIO)
    assert result.exit_code == 0
    whole = parsed(result.stdout, "eval")
    assert (whole["format"], whole["format_version"]) == ("policy-engine/eval", 1)
    assert whole["summary"]["decided"] == 1 and whole["invalid"] == []
    data, = whole["results"]
    assert (data["format"], data["format_version"]) == ("policy-engine/result", 2)
    assert (data["scenario"], data["decision"], data["rule"]) == (
        SCENARIO, "no_refund_window_expired", "window_expired")
    assert data["policy"]["file"] == REFUND
    assert data["outputs"] == {"refund_kind": "none"}
    assert data["expect"]["met"] is True
    assert data["trace"]["decided_by"]["rule"] == "window_expired"
    assert all(c["result"] is True for c in data["trace"]["decided_by"]["conditions"])


def test_eval_prints_markdown(run: Run) -> None:
    result = run("eval", "--format", "markdown", SCENARIO)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"## {SCENARIO}: `no_refund_window_expired`\n")
    assert "| Decision | `no_refund_window_expired` |" in result.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_both_engines_print_the_same(run: Run, fmt: str) -> None:
    compiled = run("eval", "--format", fmt, "--engine", "compiled", "policies/examples/scenarios")
    interpreted = run("eval", "--format", fmt, "--engine", "interpreted",
                      "policies/examples/scenarios")
    assert compiled.exit_code == interpreted.exit_code == 0
    assert compiled.stdout == interpreted.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_output_is_byte_identical_across_runs(run: Run, fmt: str) -> None:
    first = run("eval", "--format", fmt, "policies/examples")
    second = run("eval", "--format", fmt, "policies/examples")
    assert first.exit_code == second.exit_code == 0
    assert first.stdout_bytes == second.stdout_bytes
    assert first.stderr_bytes == second.stderr_bytes


def test_eval_of_a_folder_decides_every_scenario_in_name_order(run: Run) -> None:
    result = run("eval", "--format", "json", DELIVERY)
    assert result.exit_code == 0
    data = parsed(result.stdout, "eval")["results"]
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / DELIVERY).glob("*.yaml"))
    assert [item["scenario"] for item in data] == files
    assert all(item["expect"]["met"] for item in data)
    text = run("eval", DELIVERY)
    assert [line for line in text.stdout.splitlines() if line.startswith("scenario: ")] == [
        f"scenario: {name}" for name in files]


def test_eval_of_several_paths_keeps_their_order(run: Run) -> None:
    second, first = sorted(str(p.relative_to(ROOT)) for p in (ROOT / DELIVERY).glob("*.yaml"))[:2]
    data = parsed(run("eval", "--format", "json", first, second).stdout, "eval")["results"]
    assert [item["scenario"] for item in data] == [first, second]


def test_policy_option_supplies_a_missing_policy(run_in: Run, tmp_path: Path) -> None:
    name = delivery_scenario(tmp_path, policy=None)
    result = run_in("eval", "--policy", "shipping.policy", name)
    assert result.exit_code == 0, result.stderr
    assert "decision: refund_shipping" in result.stdout


def test_policy_option_overrides_the_scenario_policy(run_in: Run, tmp_path: Path) -> None:
    write(tmp_path, "changed.policy", SHIPPING.replace("days_late >= 1", "days_late >= 2"))
    name = delivery_scenario(tmp_path)
    assert "decision: refund_shipping" in run_in("eval", name).stdout
    result = run_in("eval", "--policy", "changed.policy", name)
    assert result.exit_code == 0
    assert "decision: nothing_owed" in result.stdout
    assert "policy:   shipping_refund 1.0.0 (changed.policy)" in result.stdout


def test_scenario_without_a_policy_is_exit_2(run_in: Run, tmp_path: Path) -> None:
    name = write(tmp_path, "scenario.yaml", "facts:\n  shipping: express\n")
    result = run_in("eval", name)
    assert result.exit_code == 2
    assert result.stderr.startswith("error[E303]: scenario.yaml: $: the scenario names no policy")


# ---------------------------------------------------------------- expectations


@pytest.mark.parametrize(
    ("expect", "mismatch"),
    [
        ("expect:\n  decision: nothing_owed\n",
         "decision: expected nothing_owed, got refund_shipping"),
        ("expect:\n  rule: otherwise\n", "rule: expected otherwise, got express_late"),
        ('expect:\n  outputs:\n    refund_amount: "7.00"\n',
         "output refund_amount: expected 7.00, got 7.50"),
    ],
    ids=["decision", "rule", "output"],
)
def test_unmet_expectation_is_exit_1(run_in: Run, tmp_path: Path, expect: str,
                                     mismatch: str) -> None:
    name = delivery_scenario(tmp_path, expect=expect)
    result = run_in("eval", name)
    assert result.exit_code == 1
    assert result.stderr == f"expectation not met: {name}: {mismatch}\n"
    assert "expect:   NOT MET" in result.stdout
    assert f"  {mismatch}" in result.stdout.splitlines()


def test_met_expectation_with_outputs_is_exit_0(run_in: Run, tmp_path: Path) -> None:
    name = delivery_scenario(tmp_path, expect='expect:\n  decision: refund_shipping\n'
                                              '  outputs:\n    refund_amount: "7.5"\n')
    result = run_in("eval", name)
    assert result.exit_code == 0, result.stderr
    assert "expect:   met" in result.stdout


def test_invalid_input_wins_over_an_unmet_expectation(run_in: Run, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    delivery_scenario(tmp_path / "a", expect="expect:\n  decision: nothing_owed\n")
    write(tmp_path / "a", "zz_broken.yaml", "facts: [\n")
    result = run_in("eval", "a")
    assert result.exit_code == 2
    assert "expectation not met: a/scenario.yaml" in result.stderr
    assert "error[E302]: a/zz_broken.yaml:" in result.stderr


# ---------------------------------------------------------------- invalid input: exit 2


def test_invalid_yaml_names_file_line_and_column(run_in: Run, tmp_path: Path) -> None:
    name = write(tmp_path, "bad.yaml", "policy: x.policy\nfacts:\n  a: [1, 2\n  b: 3\n")
    result = run_in("eval", name)
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("error[E302]: bad.yaml:4:")
    assert result.stdout == ""


def test_unknown_fact_names_file_line_column_and_suggests(run_in: Run, tmp_path: Path) -> None:
    name = delivery_scenario(tmp_path, facts="shiping: express\n  days_late: 1\n"
                                             "  amount_paid: \"59.00\"\n")
    result = run_in("eval", name)
    assert result.exit_code == 2
    assert result.stderr.startswith("error[E305]: scenario.yaml:3:")
    assert "$.facts.shiping: unknown fact 'shiping'" in result.stderr.splitlines()[0]
    assert "help: did you mean 'shipping'?" in result.stderr


def test_wrong_type_names_the_json_path(run_in: Run, tmp_path: Path) -> None:
    name = delivery_scenario(tmp_path, facts="shipping: express\n  days_late: three\n"
                                             "  amount_paid: \"59.00\"\n")
    result = run_in("eval", name)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error[E304]: scenario.yaml:4:14: $.facts.days_late: expected a whole number from 0 to "
        "365, got 'three'")


def test_missing_scenario_file_is_exit_2(run_in: Run) -> None:
    result = run_in("eval", "nope.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith("error[E301]: nope.yaml")


def test_missing_policy_file_is_exit_2(run_in: Run, tmp_path: Path) -> None:
    name = delivery_scenario(tmp_path, policy="missing.policy")
    result = run_in("eval", name)
    assert result.exit_code == 2
    # The scenario is named, at its `policy:` line, with the folder the path is read from.
    assert result.stderr.startswith(f"error[E301]: {name}:1:9: $.policy: the policy it names, "
                                    "missing.policy, cannot be read: no such file")
    assert "read from the scenario's folder" in result.stderr


def test_refusal_to_decide_is_exit_5_and_explained(run_in: Run, tmp_path: Path) -> None:
    write(tmp_path, "p.policy", "policy p\nfact n: whole number\nfact opt: optional whole number"
                                "\ndecision d\nrule r when opt > n then d because \"r\"\n"
                                "otherwise d\n")
    name = write(tmp_path, "s.yaml", "policy: p.policy\nfacts:\n  n: 1\n")
    result = run_in("eval", name)
    assert result.exit_code == 5  # a refusal, not invalid input (2)
    assert result.stderr == "refused: s.yaml: E401\n"
    lines = result.stdout.splitlines()
    assert "error[E401]: s.yaml: rule 'r' (p.policy:5) needs fact 'opt', which is missing" \
        in lines
    # The explanation: where evaluation stopped, and why.
    assert "  r (line 5): evaluation stopped here: needs opt > n, which cannot be computed " \
           "(opt = (missing), n = 1)" in lines
    assert "KeyError" not in result.output
    data = parsed(run_in("eval", name, "--format", "json").stdout, "eval")
    refused, = data["results"]
    assert [r["status"] for r in refused["trace"]["rules"]] == ["stopped"]
    assert data["summary"]["refused_unexpectedly"] == 1


BROKEN = """policy orders
fact items: whole number
decision approve

rule big when itmes > 2 then approve because "many items"
"""


def test_broken_policy_in_eval_is_exit_2_naming_the_policy_line(run_in: Run,
                                                                tmp_path: Path) -> None:
    write(tmp_path, "broken.policy", BROKEN)
    name = write(tmp_path, "s.yaml", "policy: broken.policy\nfacts:\n  items: 3\n")
    result = run_in("eval", name)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == \
        "error[E101]: broken.policy:5:15: unknown fact 'itmes'"


def test_check_names_the_policy_file_and_line_end_to_end(run_in: Run, tmp_path: Path) -> None:
    write(tmp_path, "broken.policy", BROKEN)
    result = run_in("check", "broken.policy")
    assert result.exit_code == 2
    assert result.stderr == ""  # what check finds is its result
    assert result.stdout == (
        "error[E101]: broken.policy:5:15: unknown fact 'itmes'\n"
        "  |\n"
        '5 | rule big when itmes > 2 then approve because "many items"\n'
        "  |               ^^^^^\n"
        "help: did you mean 'items'?\n"
        "1 checked: 1 errors, 0 warnings\n")


def test_syntax_error_in_a_policy_names_file_and_line(run_in: Run, tmp_path: Path) -> None:
    write(tmp_path, "syntax.policy", BROKEN.replace("itmes > 2", "items = 2"))
    result = run_in("check", "syntax.policy")
    assert result.exit_code == 2
    assert result.stdout.startswith("error[E001]: syntax.policy:5:21: unexpected '='\n")


# ---------------------------------------------------------------- usage errors: exit 3


@pytest.mark.parametrize(
    "args",
    [(), ("eval",), ("eval", "--format", "xml", SCENARIO), ("eval", "--bogus", SCENARIO),
     ("eval", "--engine", "fast", SCENARIO), ("bogus",), ("check",), ("schema",),
     ("schema", REFUND, "extra"), ("check", "--format", "yaml", REFUND)],
    ids=lambda args: " ".join(args) or "no command",
)
def test_usage_errors_are_exit_3(run: Run, args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 3, result.output
    assert result.stdout == "" or args == ()


def test_usage_error_messages_go_to_stderr(run: Run) -> None:
    result = run("eval", "--format", "xml", SCENARIO)
    assert "Error: Invalid value for '--format'" in result.stderr
    assert result.stdout == ""


def test_folder_without_scenarios_is_a_usage_error(run_in: Run, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_in("eval", "empty")
    assert result.exit_code == 3
    assert "no scenario files found in empty" in result.stderr


# ---------------------------------------------------------------- check


def test_check_of_shipped_policies_is_exit_0(run: Run) -> None:
    result = run("check", *SHIPPED_POLICIES)
    assert result.exit_code == 0
    assert f"{len(SHIPPED_POLICIES)} checked: 0 errors, " in result.stdout.splitlines()[-1]


def test_check_with_only_warnings_is_exit_0(run_in: Run, tmp_path: Path) -> None:
    write(tmp_path, "warn.policy", "policy w\nfact n: whole number\ndecision d\ndecision e\n"
                                   'rule r when n > 1 then d because "r"\n')
    result = run_in("check", "warn.policy")
    assert result.exit_code == 0
    assert "warning[W001]: warn.policy:4:1: decision 'e' is never returned" in result.stdout
    assert "warning[W003]" in result.stdout
    # the analysis of `policy lint` runs too: n <= 1 reaches no decision
    assert "warning[W106]" in result.stdout
    assert result.stdout.endswith("1 checked: 0 errors, 3 warnings\n")
    strict = run_in("check", "--strict", "warn.policy")
    assert strict.exit_code == 1 and strict.stdout == result.stdout


def test_check_json_lists_diagnostics_with_positions(run_in: Run, tmp_path: Path) -> None:
    write(tmp_path, "broken.policy", BROKEN)
    write(tmp_path, "warn.policy", "policy w\nfact n: whole number\ndecision d\n"
                                   'rule r when n > 1 then d because "r"\n')
    result = run_in("check", "--format", "json", "broken.policy", "warn.policy")
    assert result.exit_code == 2
    data = findings(result.stdout)
    assert [(d["file"], d["code"], d["severity"]) for d in data] == [
        ("broken.policy", "E101", "error"), ("warn.policy", "W003", "warning"),
        ("warn.policy", "W106", "warning")]
    first = data[0]
    assert {"code", "severity", "file", "line", "column", "end_line", "end_column", "path",
            "message", "help"} <= set(first)
    assert (first["line"], first["column"], first["end_line"], first["end_column"]) == (5, 15, 5,
                                                                                        20)
    assert (first["message"], first["help"]) == ("unknown fact 'itmes'", "did you mean 'items'?")


def test_check_json_of_shipped_policies_has_no_errors(run: Run) -> None:
    result = run("check", "--format", "json", *SHIPPED_POLICIES)
    assert result.exit_code == 0
    assert [d for d in findings(result.stdout) if d["severity"] == "error"] == []


def test_check_json_of_a_clean_policy_lists_nothing(run_in: Run, tmp_path: Path) -> None:
    # amount_paid is never read (W110); a comment line says that is intended
    write(tmp_path, "shipping.policy", SHIPPING.replace(
        "fact amount_paid", "# lint: allow W110 -- kept for the record\nfact amount_paid"))
    result = run_in("check", "--format", "json", "shipping.policy")
    assert result.exit_code == 0
    assert findings(result.stdout) == []
    assert parsed(result.stdout, "check")["summary"] == {
        "policies": 1, "errors": 0, "warnings": 0, "notes": 0}


def test_check_of_a_missing_file_is_exit_2(run_in: Run) -> None:
    result = run_in("check", "nope.policy")
    assert result.exit_code == 2
    assert result.stdout.startswith("error[E301]: nope.policy")


# ---------------------------------------------------------------- schema


@pytest.mark.parametrize("policy", SHIPPED_POLICIES)
def test_schema_is_a_valid_json_schema(run: Run, policy: str) -> None:
    result = run("schema", policy)
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object" and schema["additionalProperties"] is False


def test_schema_accepts_the_shipped_scenarios_facts(run: Run) -> None:
    schema = json.loads(run("schema", REFUND).stdout)
    validator = Draft202012Validator(schema)
    scenarios = sorted((ROOT / "policies/examples/scenarios/refund").glob("*.yaml"))
    assert scenarios
    for path in scenarios:
        scenario = load_scenario(str(path))
        if scenario.expect is not None and scenario.expect.error is not None:
            continue  # a scenario about a refusal may hold facts the schema refuses
        assert list(validator.iter_errors(scenario.facts)) == [], path


def test_schema_of_a_broken_policy_is_exit_2(run_in: Run, tmp_path: Path) -> None:
    write(tmp_path, "broken.policy", BROKEN)
    result = run_in("schema", "broken.policy")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error[E101]: broken.policy:5:15:")


def test_schema_output_is_byte_identical_across_runs(run: Run) -> None:
    assert run("schema", REFUND).stdout_bytes == run("schema", REFUND).stdout_bytes
