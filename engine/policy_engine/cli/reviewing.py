"""policy diff, lint and check: what a reviewer runs on a changed policy."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from policy_engine.cli.shell import (
    EXIT_EXPECTATION,
    EXIT_INVALID,
    EXIT_OK,
    Command,
    check_policy_path_given,
    cli,
    emit,
    finish,
    load_version_given,
    output_options,
    report_diagnostics,
)
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, Severity, render_all
from policy_engine.core.files import display_path
from policy_engine.policy import Policy

#: The JSON of `policy check` and `policy lint` (schemas in policy_engine/schemas/); bump the
#: version on any incompatible change.
CHECK_FORMAT = "policy-engine/check"
LINT_FORMAT = "policy-engine/lint"


def _analysis_options(prefix: str = "") -> Callable[[Command], Command]:
    """The options that set the analysis' budget (`analysis.budget`), for lint, check and
    diff --symbolic."""
    from policy_engine.analysis.budget import DEFAULT_STEPS

    budget = click.option(
        "--analysis-budget", type=click.IntRange(min=0), default=None, metavar="STEPS",
        help=f"{prefix}The work the analysis may do, in steps counted the same on every "
             f"machine (default: {DEFAULT_STEPS:,}; 0: no limit). What goes over it is "
             "reported as W112, analysis incomplete.")
    timeout = click.option(
        "--analysis-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
        metavar="SECONDS",
        help=f"{prefix}Also stop the analysis after SECONDS (off by default; findings then "
             "depend on the machine's speed).")

    def decorate(command: Command) -> Command:
        return budget(timeout(command))

    return decorate


@cli.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--scenarios", "scenario_paths", multiple=True, metavar="PATH",
              help="Scenario files or folders, decided against both versions whatever their "
                   "own 'policy:' says (default: the scenarios of OLD or NEW in the "
                   "'scenarios' folder beside NEW).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True)
@click.option("--traces", is_flag=True,
              help="Text: under each changed scenario, the diff of its two explanations.")
@click.option("--fail-on-change", is_flag=True,
              help="Exit 1 when any scenario (with --symbolic: any region) changes.")
@click.option("--symbolic", is_flag=True,
              help="Compare over the whole fact space: every region whose decision changes, "
                   "each with a witness, whatever scenarios exist.")
@click.option("--write-witnesses", "witness_dir", metavar="DIR", default=None,
              help="With --symbolic: save each change's witness as a scenario file in DIR.")
@_analysis_options("With --symbolic: ")
@output_options
@click.pass_context
def diff_command(ctx: click.Context, old: str, new: str, scenario_paths: tuple[str, ...],
                 fmt: str, traces: bool, fail_on_change: bool, symbolic: bool,
                 witness_dir: str | None, analysis_budget: int | None,
                 analysis_timeout: float | None, output_path: str | None,
                 quiet: bool) -> None:
    """Show what changing OLD into NEW does to every scenario, and which rules changed.

    OLD and NEW are policy files or git revisions, such as main:policies/x.policy.
    Exit status: 0 compared, 1 with --fail-on-change when a scenario changed, 2 a version
    could not be read or a scenario is invalid under either version (it is never counted as
    unchanged), 3 no scenario files were found.
    """
    if witness_dir is not None and not symbolic:
        raise click.UsageError("--write-witnesses needs --symbolic")
    if (analysis_budget is not None or analysis_timeout is not None) and not symbolic:
        raise click.UsageError("--analysis-budget and --analysis-timeout need --symbolic")
    if traces and fmt != "text":
        raise click.UsageError("--traces is for the text format; Markdown and JSON always "
                               "carry the explanations")
    if symbolic:
        finish(ctx, _symbolic_diff(ctx, old, new, fmt, fail_on_change, witness_dir,
                                   analysis_budget, analysis_timeout))
    from policy_engine.scenarios.diff import default_scenarios, diff_policies
    from policy_engine.scenarios.diff_report import (
        diff_json,
        invalid_diagnostics,
        render_diff_markdown,
        render_diff_text,
    )

    try:
        before, after = load_version_given(ctx, old), load_version_given(ctx, new)
    except DiagnosticError as error:
        report_diagnostics(error.diagnostics)
        ctx.exit(EXIT_INVALID)
    chosen = list(scenario_paths) or [default_scenarios(new)]
    if not scenario_paths and not os.path.isdir(chosen[0]):
        raise click.UsageError(
            f"no scenario files: there is no folder {chosen[0]} beside {new}; pass "
            "--scenarios PATH, or compare every fact set with --symbolic")
    versions = None if scenario_paths else [path for path in (old, new) if os.path.exists(path)]
    allow = bool((ctx.find_root().obj or {}).get("allow_outside"))
    result = diff_policies(before, after, chosen, versions, allow_outside=allow)
    if not result.read:
        raise click.UsageError(
            f"no scenario files of {old} or {new} in {', '.join(chosen)}: a diff compares "
            "scenarios; pass --scenarios PATH, or compare every fact set with --symbolic")
    for invalid in result.invalid:
        report_diagnostics(invalid_diagnostics(invalid))
    if fmt == "json":
        import json  # `json` is imported when output is JSON: not by every `policy eval`
        text = json.dumps(diff_json(result), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "markdown":
        text = render_diff_markdown(result)
    else:
        text = render_diff_text(result, traces=traces)
    emit(ctx, text)
    if result.invalid:
        finish(ctx, EXIT_INVALID)
    finish(ctx, EXIT_EXPECTATION if fail_on_change and result.changes else EXIT_OK)


def _symbolic_diff(ctx: click.Context, old: str, new: str, fmt: str, fail_on_change: bool,
                   witness_dir: str | None, analysis_budget: int | None = None,
                   analysis_timeout: float | None = None) -> int:
    from policy_engine.analysis.budget import Budget
    from policy_engine.analysis.symbolic_diff import (
        compare,
        diff_json,
        render_changes,
        write_change_witnesses,
    )
    from policy_engine.scenarios.diff import default_scenarios
    from policy_engine.scenarios.existing import read_scenarios

    try:
        before, after = load_version_given(ctx, old), load_version_given(ctx, new)
    except DiagnosticError as error:
        report_diagnostics(error.diagnostics)
        return EXIT_INVALID
    # The scenarios are the first witnesses tried: those of --scenarios (read from the
    # command's parameters, so `diff_command` passes nothing new), else the folder beside NEW.
    given = tuple(ctx.params.get("scenario_paths") or ())
    allow = bool((ctx.find_root().obj or {}).get("allow_outside"))
    scenarios, unreadable = read_scenarios(list(given) or [default_scenarios(new)],
                                           allow_outside=allow, optional=not given)
    if unreadable:  # as for `policy diff`: a broken scenario is an error, never skipped
        report_diagnostics(unreadable)
        return EXIT_INVALID
    result = compare(before.checked, after.checked,
                     Budget.from_options(analysis_budget, analysis_timeout), scenarios)
    changes = result.changes
    if fmt == "json":
        import json
        emit(ctx, json.dumps(diff_json(result, old, new), indent=2, ensure_ascii=False) + "\n")
    else:
        emit(ctx, render_changes(changes, old, new, markdown=fmt == "markdown",
                                 incomplete=result.incomplete, impossible=result.impossible))
    if result.incomplete:  # W112: what was not analysed, so changes may be missing
        report_diagnostics(result.incomplete)
    if witness_dir is not None:
        policy_file = new if os.path.exists(new) else None
        for path in write_change_witnesses(changes, witness_dir, policy_file):
            click.echo(f"wrote {path}", err=True)
    changed = bool(changes) or bool(result.incomplete)  # incomplete: a change may be hidden
    return EXIT_EXPECTATION if fail_on_change and changed else EXIT_OK


@cli.command("lint")
@click.argument("policies", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--write-witnesses", "witness_dir", metavar="DIR", default=None,
              help="Save each finding's witness as a scenario file in DIR (one folder per "
                   "policy when several are given).")
@click.option("--notes/--no-notes", default=True, show_default=True,
              help="Show notes (acknowledged gaps, approximate findings) as well as warnings.")
@_analysis_options()
@output_options
@click.pass_context
def lint_command(ctx: click.Context, policies: tuple[str, ...], fmt: str,
                 witness_dir: str | None, notes: bool, analysis_budget: int | None,
                 analysis_timeout: float | None, output_path: str | None,
                 quiet: bool) -> None:
    """Analyse each POLICY: rules that never apply or never decide, conflicts, gaps.

    Every finding about fact sets comes with a witness: facts that show it. The findings are
    the result: they are printed on standard output.
    Exit status: 0 no warnings (notes allowed), 1 warnings found, 2 a policy is invalid.
    """
    from policy_engine.analysis.budget import Budget
    from policy_engine.analysis.lint import lint, report_json, write_witnesses

    code = EXIT_OK
    shown: list[Diagnostic] = []
    entries: list[dict[str, Any]] = []
    warnings = notes_count = allowed_count = 0
    allowed: list[str] = []
    for path in policies:
        try:
            check_policy_path_given(ctx, path)
            policy = Policy.load(path)
        except DiagnosticError as error:
            shown += error.diagnostics
            entries.append({"file": display_path(path), "valid": False,
                            "findings": [d.to_json() for d in error.diagnostics],
                            "allowed": 0})
            code = EXIT_INVALID
            continue
        report = lint(policy.checked, Budget.from_options(analysis_budget, analysis_timeout))
        found = [d for d in policy.warnings if not d.is_error] + [
            f.diagnostic for f in report.findings]
        warnings += sum(1 for d in found if d.severity is Severity.WARNING)
        notes_count += sum(1 for d in found if d.severity is Severity.NOTE)
        allowed_count += report.allowed
        shown += [d for d in found if notes or d.severity is not Severity.NOTE]
        entries.append({"file": display_path(path), "valid": True,
                        "findings": [d.to_json() for d in policy.warnings] + [
                            item for item in report_json(report)
                            if notes or item["severity"] != "note"],
                        "allowed": report.allowed})
        if witness_dir is not None:
            folder = witness_dir if len(policies) == 1 else os.path.join(
                witness_dir, os.path.splitext(os.path.basename(path))[0])
            for written in write_witnesses(report, folder, path):
                click.echo(f"wrote {written}", err=True)
        if report.allowed:
            allowed.append(f"{path}: {report.allowed} finding"
                           f"{'s' if report.allowed != 1 else ''} allowed by '# lint: allow' "
                           "comments")
    summary = f"{len(policies)} analysed: {warnings} warnings, {notes_count} notes"
    if fmt == "json":
        import json
        emit(ctx, json.dumps({
            "format": LINT_FORMAT, "format_version": 1, "policies": entries,
            "summary": {"policies": len(policies), "invalid": sum(
                1 for e in entries if not e["valid"]), "warnings": warnings,
                "notes": notes_count, "allowed": allowed_count},
        }, indent=2, ensure_ascii=False) + "\n")
    else:
        emit(ctx, "".join(f"{line}\n" for line in (
            ([render_all(shown, limit=10_000)] if shown else []) + allowed + [summary])))
    if code == EXIT_OK and warnings:
        code = EXIT_EXPECTATION
    finish(ctx, code)


@cli.command("check")
@click.argument("policies", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--lint/--no-lint", "with_lint", default=True, show_default=True,
              help="Also run the analysis of 'policy lint' and show its warnings.")
@click.option("--strict", is_flag=True,
              help="Fail (exit status 1) on warnings too, not only on errors.")
@_analysis_options("With --lint: ")
@output_options
@click.pass_context
def check_command(ctx: click.Context, policies: tuple[str, ...], fmt: str,
                  with_lint: bool, strict: bool, analysis_budget: int | None,
                  analysis_timeout: float | None, output_path: str | None,
                  quiet: bool) -> None:
    """Parse and check each POLICY file ('-' for standard input) without evaluating anything.

    The errors and warnings found are the result: they are printed on standard output.
    Exit status: 0 no errors (warnings allowed), 1 warnings with --strict, 2 errors found.
    """
    found: list[Diagnostic] = []
    entries: list[dict[str, Any]] = []
    code = EXIT_OK
    for path in policies:
        try:
            check_policy_path_given(ctx, path)
            these = Policy.load(path).check(lint=with_lint, analysis_budget=analysis_budget,
                                            analysis_timeout=analysis_timeout)
            valid = True
        except DiagnosticError as error:
            these = list(error.diagnostics)
            valid = False
            code = EXIT_INVALID
        found += these
        entries.append({"file": display_path(path), "valid": valid,
                        "diagnostics": [d.to_json() for d in these]})
    errors = sum(1 for d in found if d.is_error)
    warnings = sum(1 for d in found if d.severity is Severity.WARNING)
    if fmt == "json":
        import json
        emit(ctx, json.dumps({
            "format": CHECK_FORMAT, "format_version": 1, "policies": entries,
            "summary": {"policies": len(policies), "errors": errors, "warnings": warnings,
                        "notes": len(found) - errors - warnings},
        }, indent=2, ensure_ascii=False) + "\n")
    else:
        shown = [render_all(found)] if found else []
        emit(ctx, "".join(f"{line}\n" for line in [
            *shown, f"{len(policies)} checked: {errors} errors, {len(found) - errors} warnings"]))
    if code == EXIT_OK and strict and warnings:
        code = EXIT_EXPECTATION
    finish(ctx, code)
