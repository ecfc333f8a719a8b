"""Runner: decides scenario files against their policy and compares each result with `expect`."""

from __future__ import annotations

import os

from policy_engine.check.types import format_value
from policy_engine.core.data import kind_of
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, did_you_mean
from policy_engine.core.files import Confinement, check_policy_name, display_path
from policy_engine.core.records import record
from policy_engine.explain.decision import Decision
from policy_engine.explain.render import Expected, Report
from policy_engine.facts.conversion import convert_value
from policy_engine.policy import Engine, Policy
from policy_engine.scenarios.scenario_file import Expectation, Scenario, load_scenario
from policy_engine.scenarios.yaml_data import read_yaml_file


@record
class ScenarioResult:
    """One scenario's decision (or refusal), and how it compares with the scenario's `expect`.

    Args:
        mismatches: one line per difference from `expect`; empty when met or not given.
    """

    scenario: str
    description: str | None
    policy: Policy
    decision: Decision
    expectation: Expectation | None
    mismatches: tuple[str, ...]

    @property
    def met(self) -> bool:
        return not self.mismatches

    @property
    def refused_unexpectedly(self) -> bool:
        """The policy refused, and the scenario has no `expect` that says it would."""
        return self.decision.refused and self.expectation is None

    def report(self) -> Report:
        """The result as the renderers show it."""
        expect = self.expectation
        expected = None if expect is None else Expected(
            expect.decision, expect.rule, expect.outputs is not None, expect.error,
            self.mismatches)
        return Report(self.decision, self.scenario, self.description, expected)


class PolicyCache:
    """Loads each policy file once per run, however many scenarios name it."""

    def __init__(self) -> None:
        self._policies: dict[str, Policy] = {}

    def get(self, path: str) -> Policy:
        key = os.path.realpath(path)
        if key not in self._policies:
            self._policies[key] = Policy.load(path)
        return self._policies[key]


def run_scenario(path: str, *, policy_path: str | None = None, engine: Engine = "interpreted",
                 cache: PolicyCache | None = None, policy: Policy | None = None,
                 ignore_expect: bool = False, confinement: Confinement | None = None,
                 named: bool = True) -> ScenarioResult:
    """Loads a scenario, decides it, and checks its expectation.

    Args:
        policy_path: overrides the scenario's own `policy:`.
        engine: the evaluator; one scenario is interpreted, which needs no compiled code.
        policy: an already loaded policy to use instead (for example another version of it).
        ignore_expect: only decide; a refusal or invalid facts are returned as a result.
        confinement: the folders the scenario and the policy it names must stay in (by
            default the repository of the working folder, see `core.files.Confinement`).
        named: the scenario was named on the command line, not found in a folder: it may be
            anywhere (but not a link out of the folders), and its own folder is one of the
            folders its policy may be in.

    A refusal is a result like a decision: met when `expect` names its code or label, a
    mismatch when `expect` names a decision, and `refused_unexpectedly` when the scenario has
    no `expect`.

    Raises:
        DiagnosticError: the scenario, its policy or its facts are invalid (the diagnostics
            name the scenario file); invalid facts are a result only when `expect` names the
            error.
    """
    scenario, shown, policy = open_scenario(path, policy_path=policy_path, cache=cache,
                                            policy=policy, confinement=confinement,
                                            named=named)
    return decide_scenario(scenario, policy, shown, engine=engine, ignore_expect=ignore_expect)


def decide_scenario(scenario: Scenario, policy: Policy, shown: str, *,
                    engine: Engine = "interpreted",
                    ignore_expect: bool = False) -> ScenarioResult:
    """Decides a loaded scenario with a loaded policy and checks its expectation (the part of
    `run_scenario` after the files are read; an editor has their texts).

    Args:
        shown: the scenario's name in diagnostics.

    Raises:
        DiagnosticError: as `run_scenario`, for invalid facts the scenario does not expect.
    """
    expect = None if ignore_expect else scenario.expect
    expected_error = expect.error if expect else None
    try:
        decision = policy.evaluate(scenario.facts, engine=engine, file=shown,
                                   locate=scenario.document.locate)
    except DiagnosticError as error:  # invalid facts: shown as a refusal when expected
        if expected_error is None and not ignore_expect:
            raise
        decision = Decision.refusing(policy.checked, error.diagnostics)
    if decision.refused:
        if ignore_expect or expect is None:
            # A refusal is an answer: the result shows it, with its explanation.
            return ScenarioResult(shown, scenario.description, policy, decision, None, ())
        if expected_error is None:
            compare(policy, scenario, decision)  # an unknown name in `expect` is still E303
            got = ", ".join(f"{d.label} ({d.code})" if d.label else d.code
                            for d in decision.refusal)
            return ScenarioResult(shown, scenario.description, policy, decision,
                                  scenario.expect, (f"expected a decision, got a refusal: {got}",))
        matched = any(expected_error in (d.code, d.label) for d in decision.refusal)
        mismatches: tuple[str, ...] = () if matched else (
            f"error: expected {expected_error}, got "
            + ", ".join(d.label or d.code for d in decision.refusal),)
        return ScenarioResult(shown, scenario.description, policy, decision, scenario.expect,
                              mismatches)
    if ignore_expect:
        return ScenarioResult(shown, scenario.description, policy, decision, None, ())
    if expected_error is not None:
        return ScenarioResult(shown, scenario.description, policy, decision, scenario.expect,
                              (f"error: expected {expected_error}, got decision "
                               f"{decision.decision}",))
    return ScenarioResult(shown, scenario.description, policy, decision, scenario.expect,
                          tuple(compare(policy, scenario, decision)))


def open_scenario(path: str, *, policy_path: str | None = None,
                  cache: PolicyCache | None = None, policy: Policy | None = None,
                  confinement: Confinement | None = None,
                  named: bool = True) -> tuple[Scenario, str, Policy]:
    """Loads a scenario and the policy it names (or `policy_path`, or `policy`), within the
    folders they must stay in; returns the scenario, its path as shown, and the policy.
    The arguments are those of `run_scenario`.

    Raises:
        DiagnosticError: the scenario or its policy cannot be read or is invalid.
    """
    confinement = confinement or Confinement.here()
    confinement.check(path, "the scenario", named=named)
    if named:
        confinement = confinement.including(os.path.dirname(path) or ".")
    scenario = load_scenario(path)
    shown = display_path(path)
    if policy is None:
        chosen = policy_path or scenario.policy
        if chosen is None:
            raise DiagnosticError([Diagnostic(
                "E303", "the scenario names no policy", file=shown, path="$",
                help="add 'policy: path/to/file.policy' to the scenario, or pass --policy")])
        check_policy_name(chosen)
        if policy_path is None:
            confinement.check(chosen, "the policy it names", where=(
                shown, scenario.document.locate(("policy",)), "$.policy"))
        try:
            policy = (cache or PolicyCache()).get(chosen)
        except DiagnosticError as error:
            if policy_path is None and all(d.code == "E301" for d in error.diagnostics):
                raise _unreadable_policy(scenario, shown, error.diagnostics[0]) from None
            raise
    return scenario, shown, policy


def _unreadable_policy(scenario: Scenario, shown: str, cause: Diagnostic) -> DiagnosticError:
    """E301 for the file a scenario's `policy:` names, said from the scenario: its `policy:`
    line, and the folder the path is read from (the scenario's, not the working folder)."""
    written = str(scenario.document.data["policy"])  # type: ignore[index]
    folder = os.path.dirname(scenario.path) or "."
    help = (f"a 'policy:' path is read from the scenario's folder, {display_path(folder)}/, "
            f"not from the folder the command runs in")
    if not os.path.isabs(written) and os.path.isfile(written):
        # The path names a file from the working folder: say how to reach it from the scenario.
        relative = os.path.relpath(written, folder).replace(os.sep, "/")
        help += f"; from there, {written} is {relative}"
    position = scenario.document.locate(("policy",))
    return DiagnosticError([Diagnostic(
        "E301", f"the policy it names, {display_path(scenario.policy or written)}, cannot be "
                f"read: {cause.message}", file=shown, path="$.policy",
        line=position[0] if position else None, column=position[1] if position else None,
        help=help)])


def compare(policy: Policy, scenario: Scenario, decision: Decision) -> list[str]:
    """Lists how the decision differs from the scenario's `expect` (empty when it matches).

    Expected outputs, when given, must equal the outputs exactly: an output the rule sets but
    `expect` leaves out is a difference too.

    Raises:
        DiagnosticError: `expect` names an unknown decision, rule or output, or a value of the
            wrong type, so a typo in a scenario can never pass silently.
    """
    expect = scenario.expect
    if expect is None:
        return []
    shown = display_path(scenario.path)
    problems: list[Diagnostic] = []
    checked = policy.checked
    known_rules = {r.id for r in checked.rules} | {"otherwise"}
    if expect.decision is not None and expect.decision not in {d.name for d in checked.decisions}:
        problems.append(_expect_problem(scenario, ("expect", "decision"),
                                        f"unknown decision '{expect.decision}'",
                                        [d.name for d in checked.decisions]))
    if expect.rule is not None and expect.rule not in known_rules:
        problems.append(_expect_problem(scenario, ("expect", "rule"),
                                        f"unknown rule '{expect.rule}'", sorted(known_rules)))
    wanted: dict[str, object] = {}
    for name, raw in (expect.outputs or {}).items():
        try:
            info = checked.output(name)
        except KeyError:
            problems.append(_expect_problem(scenario, ("expect", "outputs", name),
                                            f"unknown output '{name}'",
                                            [o.name for o in checked.outputs]))
            continue
        try:
            wanted[name] = convert_value(info.type, raw)
        except ValueError as error:
            problems.append(Diagnostic(
                "E303", f"expected output '{name}': {error}", file=shown,
                path=f"$.expect.outputs.{name}",
                line=_line(scenario, ("expect", "outputs", name)),
                column=_column(scenario, ("expect", "outputs", name))))
    if problems:
        raise DiagnosticError(problems)
    mismatches: list[str] = []
    if expect.decision is not None and expect.decision != decision.decision:
        mismatches.append(f"decision: expected {expect.decision}, got {decision.decision}")
    if expect.rule is not None and expect.rule != decision.rule:
        mismatches.append(f"rule: expected {expect.rule}, got {decision.rule}")
    if expect.outputs is not None:
        for name in [o.name for o in checked.outputs]:
            if name not in wanted and name not in decision.outputs:
                continue
            want = format_value(wanted[name]) if name in wanted else "(not set)"
            got = format_value(decision.outputs[name]) if name in decision.outputs else "(not set)"
            if name not in wanted or name not in decision.outputs or \
                    wanted[name] != decision.outputs[name]:
                mismatches.append(f"output {name}: expected {want}, got {got}")
    return mismatches


def _expect_problem(scenario: Scenario, path: tuple[str, ...], message: str,
                    known: list[str]) -> Diagnostic:
    name = message.split("'")[1]
    return Diagnostic("E303", message, file=display_path(scenario.path),
                      path="$." + ".".join(path), line=_line(scenario, path),
                      column=_column(scenario, path),
                      help=did_you_mean(name, known) or f"known: {', '.join(known)}")


def _line(scenario: Scenario, path: tuple[str | int, ...]) -> int | None:
    position = scenario.document.locate(path)
    return position[0] if position else None


def _column(scenario: Scenario, path: tuple[str | int, ...]) -> int | None:
    position = scenario.document.locate(path)
    return position[1] if position else None


def run_facts(path: str, policy_path: str, *, engine: Engine = "interpreted",
              cache: PolicyCache | None = None) -> ScenarioResult:
    """Decides a set of facts (a YAML or JSON mapping of fact names to values, not a scenario
    file) against a policy: `policy eval --policy P --facts FILE`.

    Raises:
        DiagnosticError: the file cannot be read, is not a mapping, or holds invalid facts
            (each problem with its JSON path from the top of the file).
    """
    document = read_yaml_file(path)
    shown = display_path(path)
    if not isinstance(document.data, dict):
        raise DiagnosticError([Diagnostic(
            "E303", f"a fact set must be a mapping of fact names to values, got "
                    f"{kind_of(document.data)}", file=shown, path="$", line=1, column=1,
            help="write one 'name: value' per line (YAML), or a JSON object")])
    check_policy_name(policy_path)
    policy = (cache or PolicyCache()).get(policy_path)
    decision = policy.evaluate(document.data, engine=engine, file=shown, locate=document.locate,
                               prefix=())
    return ScenarioResult(shown, None, policy, decision, None, ())
