"""policy eval and policy test: scenarios decided and compared with what they expect."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

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
    finish,
    output_options,
    report_diagnostics,
)
from policy_engine.core.diagnostics import DiagnosticError, render_all
from policy_engine.core.files import (
    SCENARIO_SUFFIXES,
    STANDARD_INPUT,
    display_path,
    find_files,
    repository_root,
)
from policy_engine.explain.render import RENDERERS, Entry, InvalidScenario
from policy_engine.scenarios.runner import PolicyCache, ScenarioResult, run_facts, run_scenario

#: The JSON of `policy test` (schema in policy_engine/schemas/); bump the version on any
#: incompatible change.
TEST_FORMAT = "policy-engine/test"


@cli.command("eval")
@click.argument("scenarios", nargs=-1)
@click.option("--policy", "policy_path", metavar="PATH",
              help="Evaluate against this policy instead of the scenario's own 'policy:'.")
@click.option("--facts", "facts_path", metavar="FILE",
              help="Decide this fact set (a YAML or JSON mapping of fact names to values; "
                   "'-' for standard input) instead of scenario files; needs --policy.")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="text",
              show_default=True, help="How to print the results.")
@click.option("--engine", type=click.Choice(["interpreted", "compiled"]),
              default="interpreted", show_default=True,
              help="Evaluator to use; both give the same answers.")
@click.option("--partial", is_flag=True,
              help="Facts left out are unknown: say what is decided, what still matters and "
                   "the next question to ask (docs/partial.md).")
@output_options
@click.pass_context
def eval_command(ctx: click.Context, scenarios: tuple[str, ...], policy_path: str | None,
                 facts_path: str | None, fmt: str, engine: str, partial: bool,
                 output_path: str | None, quiet: bool) -> None:
    """Decide each SCENARIO (a YAML file, a folder of them, or '-' for standard input), or
    the facts of --facts, and explain why.

    Every scenario gets a result, a decision or a refusal with its explanation; one that
    cannot be decided (an invalid policy, scenario or fact set) is reported on standard
    error, and with --format json, jsonl or markdown in the output too.

    Exit status: 0 every scenario decided, or refused as its 'expect' said; 1 an 'expect' was
    not met; 5 the policy refused to decide where the scenario has no 'expect'; 2 an invalid
    policy, scenario or fact set (this wins over 5, and 5 over 1).
    """
    if facts_path is not None:
        if scenarios:
            raise click.UsageError("give scenario files or --facts, not both")
        if policy_path is None:
            raise click.UsageError("--facts needs --policy: the policy to decide with")
    elif not scenarios:
        raise click.UsageError("give a scenario file or folder, or --policy P --facts FILE")
    if partial:
        from policy_engine.cli.asking import eval_partial

        if facts_path is not None or fmt == "jsonl":
            raise click.UsageError("--partial takes scenario files, and the formats text, "
                                   "json and markdown")
        finish(ctx, eval_partial(ctx, scenarios, policy_path, fmt))
    cache = PolicyCache()
    entries: list[Entry] = []
    results: list[ScenarioResult] = []
    code = EXIT_OK
    files = [facts_path] if facts_path is not None else find_files(scenarios, SCENARIO_SUFFIXES)
    if not files:
        raise click.UsageError("no scenario files found in " + ", ".join(scenarios))
    confinement = confinement_of(ctx, scenarios)
    for path in files:
        try:
            if policy_path is not None:
                check_policy_path_given(ctx, policy_path)
            if facts_path is not None:
                assert policy_path is not None
                result = run_facts(path, policy_path,
                                   engine=engine,  # type: ignore[arg-type]
                                   cache=cache)
            else:
                result = run_scenario(path, policy_path=policy_path,
                                      engine=engine,  # type: ignore[arg-type]
                                      cache=cache, confinement=confinement,
                                      named=path in scenarios)
            results.append(result)
            entries.append(result.report())
        except DiagnosticError as error:
            report_diagnostics(error.diagnostics)
            entries.append(InvalidScenario(display_path(path), tuple(error.diagnostics)))
            code = EXIT_INVALID
    if entries:
        emit(ctx, RENDERERS[fmt](entries))
    for result in results:
        if result.refused_unexpectedly:
            labels = ", ".join(f"{d.label} ({d.code})" if d.label else d.code
                               for d in result.decision.refusal)
            click.echo(f"refused: {result.scenario}: {labels}", err=True)
        elif not result.met:
            click.echo(f"expectation not met: {result.scenario}: "
                       + "; ".join(result.mismatches), err=True)
    if code == EXIT_OK and any(r.refused_unexpectedly for r in results):
        code = EXIT_REFUSED
    if code == EXIT_OK and any(not r.met for r in results):
        code = EXIT_EXPECTATION
    finish(ctx, code)


@cli.command("test")
@click.argument("paths", nargs=-1)
@click.option("--policy", "policy_path", metavar="PATH",
              help="Run every scenario against this policy instead of its own 'policy:'.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="One line per scenario instead of dots.")
@click.option("--coverage/--no-coverage", default=True, show_default=True,
              help="Report which rules, conditions and table rows the scenarios exercised.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None, metavar="N",
              help="Fail when fewer than N percent of a policy's rules decided in some scenario.")
@click.option("--junit-xml", "junit", type=click.Path(dir_okay=False, writable=True),
              help="Also write the results as JUnit XML for CI systems.")
@click.option("--engine", type=click.Choice(["interpreted", "compiled"]),
              default="interpreted", show_default=True,
              help="Evaluator to use; both give the same answers.")
@click.option("--update", is_flag=True,
              help="Write each scenario's snapshot (its decision and explanation as Markdown) "
                   "instead of comparing with it, and remove the snapshots of scenarios that "
                   "are gone.")
@click.option("--snapshots", "snapshot_folder", metavar="DIR", default=None,
              help="Keep snapshots under DIR, at each scenario's path (default: a "
                   "__snapshots__ folder beside the scenarios).")
@click.option("--no-snapshots", is_flag=True, help="Compare no snapshots.")
@output_options
@click.pass_context
def test_command(ctx: click.Context, paths: tuple[str, ...], policy_path: str | None, fmt: str,
                 verbose: bool, coverage: bool, min_coverage: float | None, junit: str | None,
                 engine: str, update: bool, snapshot_folder: str | None, no_snapshots: bool,
                 output_path: str | None, quiet: bool) -> None:
    """Run every scenario under PATHS (default: policies/) and check its 'expect' and its
    snapshot.

    A scenario whose folder keeps snapshots (a __snapshots__ folder beside it, or --snapshots
    DIR) must also give the same decision and explanation as its snapshot; --update writes
    them. Snapshots name files from the repository's top folder, wherever you run it.

    Exit status: 0 all passed (and coverage met), 1 a scenario failed (its 'expect' or its
    snapshot) or coverage is below --min-coverage, 5 the policy refused to decide on a
    scenario with no 'expect', 2 a scenario or policy could not be read (2 wins over 5, 5
    over 1).
    """
    from policy_engine.scenarios.snapshots import Snapshots, obsolete, remove
    from policy_engine.scenarios.testing import (
        coverage_json,
        coverage_report,
        junit_xml,
        run_tests,
        summary,
    )

    if no_snapshots and (update or snapshot_folder):
        raise click.UsageError("--no-snapshots cannot be combined with --update or --snapshots")
    if policy_path is not None:
        try:
            check_policy_path_given(ctx, policy_path)
        except DiagnosticError as error:
            report_diagnostics(error.diagnostics)
            ctx.exit(EXIT_INVALID)
    allow = bool((ctx.find_root().obj or {}).get("allow_outside"))
    named = paths or ("policies",)
    if not paths and not os.path.isdir("policies"):
        raise click.UsageError("no scenario files: there is no folder 'policies' here (give "
                               "the folders or files of your scenarios)")
    if not find_files(named, SCENARIO_SUFFIXES):
        raise click.UsageError("no scenario files found in " + ", ".join(named) + (
            "" if paths else " (give the folders or files of your scenarios)"))
    snapshots = None if no_snapshots else Snapshots(
        os.path.abspath(snapshot_folder) if snapshot_folder else None, update)
    with _at_repository_root(snapshots is not None) as moved:
        outcomes, measured = run_tests(tuple(moved(p) for p in named), engine=engine,  # type: ignore[arg-type]
                                       policy_path=moved(policy_path) if policy_path else None,
                                       allow_outside=allow, snapshots=snapshots)
        gone = obsolete([o.path for o in outcomes if o.result is not None], snapshots) \
            if snapshots is not None else []
        if update:
            for path in gone:
                remove(path)
                click.echo(f"removed {path}: its scenario is gone", err=True)
        else:
            for path in gone:
                click.echo(f"warning: {path} is the snapshot of no scenario; "
                           "'policy test --update' removes it", err=True)
    below = [p for p in measured.policies.values()
             if min_coverage is not None and p.decided_percent < min_coverage]
    if junit:
        with open(junit, "w", encoding="utf-8") as handle:
            handle.write(junit_xml(outcomes))
    if update:
        written = sum(1 for o in outcomes if o.snapshot and o.snapshot.status == "written")
        click.echo(f"snapshots: {written} written, "
                   f"{sum(1 for o in outcomes if o.snapshot and o.snapshot.status == 'unchanged')}"
                   " unchanged", err=True)
    if fmt == "json":
        import json  # `json` is imported when output is JSON: not by every `policy eval`
        emit(ctx, json.dumps(_test_json(outcomes, coverage_json(measured), below), indent=2,
                             ensure_ascii=False) + "\n")
    else:
        text = _test_text(outcomes, verbose)
        if coverage:
            text += "\n" + coverage_report(measured) + "\n"
        for policy in below:
            text += (f"coverage of {policy.name} is {policy.decided_percent:.0f}%, below "
                     f"--min-coverage {min_coverage:g}%\n")
        emit(ctx, text + summary(outcomes) + "\n")
    statuses = {o.status for o in outcomes}
    code = EXIT_INVALID if "error" in statuses else EXIT_REFUSED if "refused" in statuses else (
        EXIT_EXPECTATION if "failed" in statuses or below else EXIT_OK)
    finish(ctx, code)


@contextlib.contextmanager
def _at_repository_root(move: bool) -> Iterator[Callable[[str], str]]:
    """Runs the body in the repository's top folder when `move` (so snapshots show the same
    paths wherever the command was run), giving it a function that turns a path given on the
    command line into one that still names the same file."""
    if not move:
        yield lambda path: path
        return
    here = os.getcwd()
    root = repository_root()

    def moved(path: str) -> str:
        if path == STANDARD_INPUT or os.path.isabs(path):
            return path
        return os.path.relpath(os.path.join(here, path), root)

    os.chdir(root)
    try:
        yield moved
    finally:
        os.chdir(here)


def _test_json(outcomes: list[Any], coverage: list[dict[str, object]],
               below: list[Any]) -> dict[str, Any]:
    from policy_engine.scenarios.testing import counts

    return {
        "format": TEST_FORMAT,
        "format_version": 1,
        "summary": {**counts(outcomes), "below_min_coverage": [p.name for p in below]},
        "scenarios": [{"scenario": o.path, "status": o.status,
                       "mismatches": list(o.mismatches),
                       "diagnostics": [d.to_json() for d in o.diagnostics],
                       "refused": [d.to_json() for d in o.result.decision.refusal]
                       if o.result is not None else [],
                       "snapshot": {"path": o.snapshot.path, "status": o.snapshot.status,
                                    "diff": o.snapshot.diff} if o.snapshot else None}
                      for o in outcomes],
        "coverage": coverage,
    }


def _test_text(outcomes: list[Any], verbose: bool) -> str:
    marks = {"passed": ".", "failed": "F", "refused": "R", "error": "E"}
    lines: list[str] = []
    if verbose:
        lines += [f"{outcome.path} {outcome.status.upper()}" for outcome in outcomes]
    else:
        lines.append("".join(marks[o.status] for o in outcomes))
    problems = [o for o in outcomes if o.status != "passed"]
    for outcome in problems:
        lines += ["", f"_____ {outcome.path} _____"]
        if outcome.status == "error":
            lines.append(render_all(outcome.diagnostics))
            continue
        if outcome.status == "refused":
            lines.append("  the policy refused to decide, and the scenario has no 'expect' "
                         "that says it would")
        lines += [f"  {mismatch}" for mismatch in outcome.mismatches]
        if outcome.snapshot is not None and outcome.snapshot.diff:
            lines += ["", outcome.snapshot.diff.rstrip("\n")]
        lines += ["", RENDERERS["text"]([outcome.result.report()]).rstrip("\n")]
    return "\n".join(lines) + "\n"
