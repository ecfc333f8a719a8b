"""policy eval and policy test: scenarios decided and compared with what they expect."""

from __future__ import annotations

import json
from typing import Any

import click

from policy_engine.cli.shell import (
    EXIT_EXPECTATION,
    EXIT_INVALID,
    EXIT_OK,
    check_policy_path_given,
    cli,
    confinement_of,
    report_diagnostics,
)
from policy_engine.core.diagnostics import DiagnosticError, render_all
from policy_engine.core.files import (
    SCENARIO_SUFFIXES,
    find_files,
)
from policy_engine.explain.render import RENDERERS
from policy_engine.scenarios.runner import PolicyCache, ScenarioResult, run_scenario


@cli.command("eval")
@click.argument("scenarios", nargs=-1, required=True)
@click.option("--policy", "policy_path", metavar="PATH",
              help="Evaluate against this policy instead of the scenario's own 'policy:'.")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="text",
              show_default=True, help="How to print the result.")
@click.option("--engine", type=click.Choice(["interpreted", "compiled"]),
              default="interpreted", show_default=True,
              help="Evaluator to use; both give the same answers.")
@click.option("--partial", is_flag=True,
              help="Facts left out are unknown: say what is decided, what still matters and "
                   "the next question to ask (docs/partial.md).")
@click.pass_context
def eval_command(ctx: click.Context, scenarios: tuple[str, ...], policy_path: str | None,
                 fmt: str, engine: str, partial: bool) -> None:
    """Decide each SCENARIO (a YAML file, or a folder of them) and explain why.

    Exit status: 0 decided (and every 'expect' met), 1 an 'expect' was not met,
    2 an invalid policy, scenario or fact set, or a refusal to decide.
    """
    if partial:
        from policy_engine.cli.asking import eval_partial

        ctx.exit(eval_partial(ctx, scenarios, policy_path, fmt))
    cache = PolicyCache()
    results: list[ScenarioResult] = []
    code = EXIT_OK
    files = find_files(scenarios, SCENARIO_SUFFIXES)
    if not files:
        raise click.UsageError("no scenario files found in " + ", ".join(scenarios))
    confinement = confinement_of(ctx, scenarios)
    for path in files:
        try:
            if policy_path is not None:
                check_policy_path_given(ctx, policy_path)
            results.append(run_scenario(path, policy_path=policy_path,
                                        engine=engine,  # type: ignore[arg-type]
                                        cache=cache, confinement=confinement,
                                        named=path in scenarios))
        except DiagnosticError as error:
            report_diagnostics(error.diagnostics)
            code = EXIT_INVALID
    if results:
        click.echo(RENDERERS[fmt]([result.report() for result in results]), nl=False)
    failed = [r for r in results if not r.met]
    for result in failed:
        click.echo(f"expectation not met: {result.scenario}: " + "; ".join(result.mismatches),
                   err=True)
    if failed and code == EXIT_OK:
        code = EXIT_EXPECTATION
    ctx.exit(code)


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
@click.pass_context
def test_command(ctx: click.Context, paths: tuple[str, ...], policy_path: str | None, fmt: str,
                 verbose: bool, coverage: bool, min_coverage: float | None, junit: str | None,
                 engine: str) -> None:
    """Run every scenario under PATHS (default: policies/) and check its 'expect'.

    Exit status: 0 all passed (and coverage met), 1 a scenario failed or coverage is below
    --min-coverage, 2 a scenario or policy could not be read.
    """
    from policy_engine.scenarios.testing import (
        coverage_json,
        coverage_report,
        junit_xml,
        run_tests,
        summary,
    )

    if policy_path is not None:
        try:
            check_policy_path_given(ctx, policy_path)
        except DiagnosticError as error:
            report_diagnostics(error.diagnostics)
            ctx.exit(EXIT_INVALID)
    allow = bool((ctx.find_root().obj or {}).get("allow_outside"))
    outcomes, measured = run_tests(paths or ("policies",), engine=engine,  # type: ignore[arg-type]
                                   policy_path=policy_path, allow_outside=allow)
    if not outcomes:
        raise click.UsageError("no scenario files found in " + ", ".join(paths or ("policies",)))
    below = [p for p in measured.policies.values()
             if min_coverage is not None and p.decided_percent < min_coverage]
    if junit:
        with open(junit, "w", encoding="utf-8") as handle:
            handle.write(junit_xml(outcomes))
    if fmt == "json":
        click.echo(json.dumps({
            "summary": summary(outcomes),
            "scenarios": [{"scenario": o.path, "status": o.status,
                           "mismatches": list(o.result.mismatches) if o.result else [],
                           "diagnostics": [d.to_json() for d in o.diagnostics]}
                          for o in outcomes],
            "coverage": coverage_json(measured),
        }, indent=2, ensure_ascii=False))
    else:
        _test_text(outcomes, verbose)
        if coverage:
            click.echo("")
            click.echo(coverage_report(measured))
        for policy in below:
            click.echo(f"coverage of {policy.name} is {policy.decided_percent:.0f}%, below "
                       f"--min-coverage {min_coverage:g}%")
        click.echo(summary(outcomes))
    statuses = {o.status for o in outcomes}
    code = EXIT_INVALID if "error" in statuses else (
        EXIT_EXPECTATION if "failed" in statuses or below else EXIT_OK)
    ctx.exit(code)


def _test_text(outcomes: list[Any], verbose: bool) -> None:
    marks = {"passed": ".", "failed": "F", "error": "E"}
    if verbose:
        for outcome in outcomes:
            click.echo(f"{outcome.path} {outcome.status.upper()}")
    else:
        click.echo("".join(marks[o.status] for o in outcomes))
    problems = [o for o in outcomes if o.status != "passed"]
    for outcome in problems:
        click.echo("")
        click.echo(f"_____ {outcome.path} _____")
        if outcome.status == "error":
            click.echo(render_all(outcome.diagnostics))
            continue
        for mismatch in outcome.result.mismatches:
            click.echo(f"  {mismatch}")
        click.echo("")
        click.echo(RENDERERS["text"]([outcome.result.report()]), nl=False)

