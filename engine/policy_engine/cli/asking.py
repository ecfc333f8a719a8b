"""policy ask and policy eval --partial: what a policy answers on the facts known so far.

`policy ask POLICY` interviews a support agent: it asks the best next question (the fact's
title and the values it takes), validates each answer as the fact stage validates a scenario
file's value, and stops when the answer is decided or refused; then it prints the decision
with its explanation and the answers as a scenario file. `policy eval --partial` prints the
residual of scenario files whose missing facts are unknown. Both are thin layers over
`Policy.residual`; the analysis is imported only when they run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from policy_engine.cli.shell import (
    EXIT_EXPECTATION,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_REFUSED,
    check_policy_path_given,
    cli,
    confinement_of,
    emit,
    load_or_exit,
    report_diagnostics,
)
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.files import SCENARIO_SUFFIXES, display_path, find_files

if TYPE_CHECKING:
    from policy_engine.analysis.residual import Question, Residual
    from policy_engine.check.checked import FactInfo
    from policy_engine.policy import Policy

#: The answers that are not values.
SKIP, STOP, LEAVE_OUT = "?", "q", "-"


def eval_partial(ctx: click.Context, scenarios: tuple[str, ...], policy_path: str | None,
                 fmt: str) -> int:
    """`policy eval --partial`: each scenario's residual; returns the exit status."""
    from policy_engine.analysis.residual_render import RESIDUAL_RENDERERS
    from policy_engine.scenarios.partial import PartialResult, residual_of_scenario
    from policy_engine.scenarios.runner import PolicyCache

    files = find_files(scenarios, SCENARIO_SUFFIXES)
    if not files:
        raise click.UsageError("no scenario files found in " + ", ".join(scenarios))
    confinement = confinement_of(ctx, scenarios)
    cache = PolicyCache()
    results: list[PartialResult] = []
    code = EXIT_OK
    for path in files:
        try:
            if policy_path is not None:
                check_policy_path_given(ctx, policy_path)
            results.append(residual_of_scenario(path, policy_path=policy_path, cache=cache,
                                                confinement=confinement,
                                                named=path in scenarios))
        except DiagnosticError as error:
            report_diagnostics(error.diagnostics)
            code = EXIT_INVALID
    if results:
        emit(ctx, RESIDUAL_RENDERERS[fmt]([r.report() for r in results]))
    for result in results:
        if result.mismatches:
            click.echo(f"expectation not met: {result.scenario}: "
                       + "; ".join(result.mismatches), err=True)
    if code == EXIT_OK and any(r.refused for r in results):
        code = EXIT_REFUSED
    if code == EXIT_OK and any(r.mismatches for r in results):
        code = EXIT_EXPECTATION
    return code


@cli.command("ask")
@click.argument("policy_path", metavar="POLICY")
@click.option("--facts", "facts_path", metavar="SCENARIO",
              help="Start from the facts of this scenario file (those it gives are known).")
@click.option("--save", "save_path", metavar="FILE",
              help="Also write the answers as a scenario file FILE (never overwritten).")
@click.option("--skip", "skipped", multiple=True, metavar="FACT",
              help="Never ask about FACT (for example one the agent cannot find out).")
@click.option("--analysis-budget", type=click.IntRange(min=0), default=None, metavar="STEPS",
              help="The work each step of the analysis may do (default 5,000,000; 0: no "
                   "limit).")
@click.pass_context
def ask_command(ctx: click.Context, policy_path: str, facts_path: str | None,
                save_path: str | None, skipped: tuple[str, ...],
                analysis_budget: int | None) -> None:
    """Interview: ask the next most useful question until POLICY's answer is decided.

    Each question names a fact, its description and the values it takes. Answer with a
    value as a scenario file would write it; '?' when you do not know (it is not asked
    again), '-' to leave out a fact that may be left out, 'q' to stop. Exit status: 0
    decided, 1 stopped before a decision, 5 refused, 2 an invalid policy or file.
    """
    policy = load_or_exit(ctx, policy_path)
    declared = [info.name for info in policy.checked.facts]
    unknown = [name for name in skipped if name not in declared]
    if unknown:
        raise click.BadParameter(f"'{unknown[0]}' is not a fact of policy '{policy.name}' "
                                 f"(its facts: {', '.join(declared)})", param_hint="--skip")
    taken = save_path_taken(save_path) if save_path is not None else None
    if taken is not None:  # said before the interview, not after the agent's work
        report_diagnostics([taken])
        ctx.exit(EXIT_INVALID)
    known: dict[str, Any] = {}
    try:
        if facts_path is not None:
            known = _start_facts(ctx, facts_path)
        residual = _interview(policy, known, set(skipped), analysis_budget)
    except DiagnosticError as error:
        report_diagnostics(error.diagnostics)
        ctx.exit(EXIT_INVALID)
        raise  # unreachable: ctx.exit raises
    code = _conclude(policy, residual, known, save_path)
    ctx.exit(code)


def save_path_taken(path: str) -> Diagnostic | None:
    """E702 when `path` exists (a scenario an agent saved is never overwritten)."""
    if not os.path.lexists(path):
        return None
    return Diagnostic("E702", f"'{display_path(path)}' already exists; the answers are not "
                              "saved over it", file=display_path(path),
                      help="choose another file name, or move the file away first")


def _start_facts(ctx: click.Context, path: str) -> dict[str, Any]:
    from policy_engine.scenarios.scenario_file import load_scenario

    confinement_of(ctx, (path,)).check(path, "the scenario", named=True)
    facts = load_scenario(path).facts
    return dict(facts) if isinstance(facts, Mapping) else {}


def _interview(policy: Policy, known: dict[str, Any], skipped: set[str],
               analysis_budget: int | None) -> Residual:
    """Asks until the answer is decided (with its outputs), refused, or nothing is left to
    ask; returns the last residual. `known` receives the answers."""
    from policy_engine.facts.known import validate_known
    from policy_engine.facts.validation import FactStage

    stage = FactStage(policy.checked.facts, title=policy.name)
    click.echo(f"{policy.title or policy.name} ({_policy_name(policy)})")
    click.echo(f"Answer each question as a scenario file would write the value; "
               f"'{SKIP}' if you do not know, '{STOP}' to stop.")
    number = 0
    while True:
        residual = policy.residual(known, exclude=skipped, irrelevant=False,
                                   analysis_budget=analysis_budget)
        question = residual.next_question
        if question is None or residual.refused:
            return residual
        number += 1
        _show_question(number, residual, question)
        while True:
            answer = _read_answer(question.fact)
            if answer is None or answer == STOP:
                return residual
            if answer == SKIP:
                skipped.add(question.fact)
                break
            info = policy.checked.fact(question.fact)
            if answer == LEAVE_OUT and not (info.optional and info.default is None):
                click.echo(f"  '{question.fact}' cannot be left out; give a value, or '?'")
                continue
            value = None if answer == LEAVE_OUT else _value(info, answer)
            try:
                validate_known(stage, {question.fact: value}, file="<answer>")
            except DiagnosticError as error:
                for problem in error.diagnostics:
                    click.echo(f"  {problem.message}")
                    if problem.help:
                        click.echo(f"  help: {problem.help}")
                continue
            known[question.fact] = value
            break


def _policy_name(policy: Policy) -> str:
    version = f" {policy.version}" if policy.version else ""
    return f"{policy.name}{version}, {display_path(policy.path or policy.checked.source.name)}"


def _show_question(number: int, residual: Residual, question: Question) -> None:
    from policy_engine.analysis.residual_render import group_line, outcome_names

    names = outcome_names(residual)
    click.echo("")
    if residual.decided:
        click.echo(f"The decision is certain: {names[0]}. This completes its outputs.")
    else:
        click.echo("Still possible: " + ", ".join(names))
    click.echo(f"Question {number}: {question.fact}")
    if question.title:
        click.echo(f"  {question.title}")
    leave = f"; '{LEAVE_OUT}' to leave it out" if question.optional and \
        residual.policy.fact(question.fact).default is None else ""
    click.echo(f"  expected: {question.expected}{leave}")
    if question.influence is not None:
        for group in question.influence.values:
            click.echo(f"  {group_line(group, names)}")


def _read_answer(fact: str) -> str | None:
    """One line from standard input (None at its end); Ctrl-C stops the command."""
    click.echo(f"{fact}> ", nl=False)
    try:
        line = sys.stdin.readline()
    except KeyboardInterrupt as stop:
        raise click.Abort() from stop
    if not line:
        click.echo("")
        return None
    answer = line.strip()
    if not _is_terminal(sys.stdin):  # show the answers read, as a terminal echoes them
        click.echo(answer)
    return answer or _read_answer(fact)


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


def _value(info: FactInfo, answer: str) -> object:
    """An answer as the value a scenario file would give: YAML, except that a text is taken
    as typed, and a list may be written without brackets."""
    from policy_engine.check.types import ListType, TextType
    from policy_engine.scenarios.yaml_data import load_yaml

    element = info.type.element if isinstance(info.type, ListType) else info.type
    if isinstance(info.type, ListType) and not answer.startswith("["):
        if isinstance(element, TextType):
            return [item.strip() for item in answer.split(",")]
        answer = f"[{answer}]"
    elif isinstance(info.type, TextType):
        return answer
    try:
        return load_yaml(answer, "<answer>").data
    except DiagnosticError:
        return answer  # not YAML: the fact stage says what was expected


def _conclude(policy: Policy, residual: Residual, known: dict[str, Any],
              save_path: str | None) -> int:
    """Prints the decision (or the residual when undecided) and the answers as a scenario;
    returns the exit status."""
    from policy_engine.analysis.residual_render import ResidualReport, render_residual_text
    from policy_engine.explain.render import Report, render_text
    from policy_engine.scenarios.partial import answers_scenario

    click.echo("")
    decision = residual.decision
    if residual.decided and decision is not None:
        click.echo(render_text([Report(decision)]), nl=False)
        if residual.assumed:
            click.echo("")
            click.echo("not answered (any allowed value gives the same decision): "
                       + ", ".join(sorted(residual.assumed)))
        for output in residual.open_outputs:
            what = f"advisory {output.advisory}" if output.advisory else f"output {output.output}"
            click.echo(f"still open: {what} depends on " + ", ".join(output.facts))
    else:
        click.echo("The interview stopped before a decision:")
        click.echo(render_residual_text([ResidualReport(residual)]), nl=False)
    text = answers_scenario(policy, residual, known, save_path)
    click.echo("")
    if save_path is not None:
        with open(save_path, "x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        click.echo(f"wrote {display_path(save_path)}")
    else:
        click.echo("The answers as a scenario file (save them with --save FILE):")
        click.echo(text, nl=False)
    if residual.refused:
        return EXIT_REFUSED
    return EXIT_OK if residual.decided else EXIT_EXPECTATION
