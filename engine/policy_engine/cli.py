"""CLI: the `policy` command, a thin shell over the library API (`Policy`, `scenarios.runner`).

Exit codes are a contract, documented in docs/cli.md.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from policy_engine import __version__
from policy_engine.core.cache import ENVIRONMENT_SWITCH
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, Severity, render_all
from policy_engine.core.files import (
    POLICY_SUFFIXES,
    SCENARIO_SUFFIXES,
    Confinement,
    check_policy_name,
    display_path,
    find_files,
    read_text,
)
from policy_engine.explain.render import RENDERERS
from policy_engine.policy import MAX_POLICY_BYTES, Policy
from policy_engine.scenarios.runner import PolicyCache, ScenarioResult, run_scenario

EXIT_OK = 0
EXIT_EXPECTATION = 1
EXIT_INVALID = 2
EXIT_USAGE = 3
EXIT_INTERNAL = 4
#: A command stopped by a signal exits with 128 plus the signal's number, as a shell reports
#: it: 130 after SIGINT (Ctrl-C), 143 after SIGTERM.
EXIT_SIGNAL = 128


class _PolicyGroup(click.Group):
    """Runs commands with our exit codes, and turns any unexpected exception into a message."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            code = super().main(args, prog_name or "policy", complete_var,
                                standalone_mode=False, **extra)
            if sys.stdout is not None:
                sys.stdout.flush()  # a failure shows here, not as Python's message at exit
        except click.UsageError as error:
            error.show()
            sys.exit(EXIT_USAGE)
        except click.ClickException as error:
            error.show()
            sys.exit(EXIT_INVALID)
        except click.Abort as error:
            if isinstance(error.__cause__, KeyboardInterrupt):
                click.echo("interrupted", err=True)
                sys.exit(EXIT_SIGNAL + signal.SIGINT)
            click.echo("aborted", err=True)
            sys.exit(EXIT_USAGE)
        except BrokenPipeError:
            # The reader went away (`policy eval ... | head`); that is not our error.
            _silence_standard_output()
            sys.exit(EXIT_OK)
        except OSError as error:  # writing standard output or a file: ENOSPC, EIO, EBADF...
            if os.environ.get("POLICY_DEBUG"):
                raise
            from policy_engine.batch.output import STANDARD_OUTPUT, output_error

            shown = _unwritten_file(error)
            if shown == STANDARD_OUTPUT:
                _silence_standard_output()
            _report(output_error(shown, error).diagnostics)
            sys.exit(EXIT_INVALID)
        except Exception as error:  # never show a traceback to a policy author
            if os.environ.get("POLICY_DEBUG"):
                raise
            click.echo(f"internal error: {type(error).__name__}: {error}\n"
                       "help: this is a bug in the engine, not in your files; please report it "
                       "with the command you ran (set POLICY_DEBUG=1 for a traceback)", err=True)
            sys.exit(EXIT_INTERNAL)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def _silence_standard_output() -> None:
    """Points standard output at the null device, so that the output still buffered (which
    cannot be written) is not flushed into another error as Python exits."""
    if sys.stdout is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # not a real file (a test's capture): nothing is flushed at exit


def _unwritten_file(error: OSError) -> str:
    """The file a failed write was for, as messages show it: the error's own file name, else
    the file being written where it failed, else standard output when it cannot be
    flushed."""
    from policy_engine.batch.output import STANDARD_OUTPUT

    if isinstance(error.filename, (str, bytes)):
        return display_path(os.fsdecode(error.filename))
    frames = traceback.walk_tb(error.__traceback__)
    for frame, _ in reversed(list(frames)):  # the innermost frame first
        for value in frame.f_locals.values():
            if isinstance(value, io.IOBase) and set(getattr(value, "mode", "")) & set("wa+"):
                name = getattr(value, "name", None)
                if value is sys.stdout or value is sys.__stdout__ or name == "<stdout>":
                    return STANDARD_OUTPUT
                if isinstance(name, str):
                    return display_path(name)
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        return STANDARD_OUTPUT
    return "<output>"


def _report(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> None:
    click.echo(render_all(diagnostics), err=True)


def _confinement(ctx: click.Context, named: Sequence[str]) -> Confinement:
    """The folders this command may read files from (`policy --allow-outside` lifts it)."""
    allow = bool((ctx.find_root().obj or {}).get("allow_outside"))
    return Confinement.here(named, allow_outside=allow)


def _check_policy_path(ctx: click.Context, path: str) -> None:
    """A policy named on the command line: a `.policy` file, and not a link out of the
    repository (DiagnosticError otherwise)."""
    check_policy_name(path)
    _confinement(ctx, ()).check(path, "the policy", named=True)


def _load_version(ctx: click.Context, spec: str) -> Policy:
    """A version of a policy for `policy diff`: a file (checked like any policy named on the
    command line) or REVISION:PATH."""
    from policy_engine.scenarios.diff import load_version

    return load_version(spec, check_file=lambda path: _check_policy_path(ctx, path))


def _load_or_exit(ctx: click.Context, path: str) -> Policy:
    """Loads a policy, or reports why it cannot and exits with status 2."""
    try:
        _check_policy_path(ctx, path)
        return Policy.load(path)
    except DiagnosticError as error:
        _report(error.diagnostics)
        ctx.exit(EXIT_INVALID)
        raise  # unreachable: ctx.exit raises


@click.group(cls=_PolicyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="policy")
@click.option("--no-cache", is_flag=True,
              help="Parse and check policies even when the cache of checked policies has them.")
@click.option("--allow-outside", is_flag=True,
              help="Read files outside the repository (or the folders given) when a scenario "
                   "names one or a link leads there; by default that is error E310.")
@click.pass_context
def cli(ctx: click.Context, no_cache: bool, allow_outside: bool) -> None:
    """Check, evaluate and explain rules-as-data policies."""
    ctx.obj = {"allow_outside": allow_outside}
    if no_cache:  # the same switch as POLICY_ENGINE_CACHE=0, for this command only
        previous = os.environ.get(ENVIRONMENT_SWITCH)
        os.environ[ENVIRONMENT_SWITCH] = "0"

        def restore() -> None:
            if previous is None:
                os.environ.pop(ENVIRONMENT_SWITCH, None)
            else:
                os.environ[ENVIRONMENT_SWITCH] = previous

        ctx.call_on_close(restore)


@cli.command("eval")
@click.argument("scenarios", nargs=-1, required=True)
@click.option("--policy", "policy_path", metavar="PATH",
              help="Evaluate against this policy instead of the scenario's own 'policy:'.")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="text",
              show_default=True, help="How to print the result.")
@click.option("--engine", type=click.Choice(["interpreted", "compiled"]),
              default="interpreted", show_default=True,
              help="Evaluator to use; both give the same answers.")
@click.pass_context
def eval_command(ctx: click.Context, scenarios: tuple[str, ...], policy_path: str | None,
                 fmt: str, engine: str) -> None:
    """Decide each SCENARIO (a YAML file, or a folder of them) and explain why.

    Exit status: 0 decided (and every 'expect' met), 1 an 'expect' was not met,
    2 an invalid policy, scenario or fact set, or a refusal to decide.
    """
    cache = PolicyCache()
    results: list[ScenarioResult] = []
    code = EXIT_OK
    files = find_files(scenarios, SCENARIO_SUFFIXES)
    if not files:
        raise click.UsageError("no scenario files found in " + ", ".join(scenarios))
    confinement = _confinement(ctx, scenarios)
    for path in files:
        try:
            if policy_path is not None:
                _check_policy_path(ctx, policy_path)
            results.append(run_scenario(path, policy_path=policy_path,
                                        engine=engine,  # type: ignore[arg-type]
                                        cache=cache, confinement=confinement,
                                        named=path in scenarios))
        except DiagnosticError as error:
            _report(error.diagnostics)
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
            _check_policy_path(ctx, policy_path)
        except DiagnosticError as error:
            _report(error.diagnostics)
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


_Command = TypeVar("_Command", bound=Callable[..., Any])


def _analysis_options(prefix: str = "") -> Callable[[_Command], _Command]:
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

    def decorate(command: _Command) -> _Command:
        return budget(timeout(command))

    return decorate


@cli.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--scenarios", "scenario_paths", multiple=True, metavar="PATH",
              help="Scenario files or folders (default: the 'scenarios' folder beside NEW).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True)
@click.option("--fail-on-change", is_flag=True,
              help="Exit 1 when any scenario (with --symbolic: any region) changes.")
@click.option("--symbolic", is_flag=True,
              help="Compare over the whole fact space: every region whose decision changes, "
                   "each with a witness, whatever scenarios exist.")
@click.option("--write-witnesses", "witness_dir", metavar="DIR", default=None,
              help="With --symbolic: save each change's witness as a scenario file in DIR.")
@_analysis_options("With --symbolic: ")
@click.pass_context
def diff_command(ctx: click.Context, old: str, new: str, scenario_paths: tuple[str, ...],
                 fmt: str, fail_on_change: bool, symbolic: bool,
                 witness_dir: str | None, analysis_budget: int | None,
                 analysis_timeout: float | None) -> None:
    """Show what changing OLD into NEW does to every scenario, and which rules changed.

    OLD and NEW are policy files or git revisions, such as main:policies/x.policy.
    Exit status: 0 compared, 1 with --fail-on-change when a scenario changed, 2 a version
    could not be read.
    """
    if witness_dir is not None and not symbolic:
        raise click.UsageError("--write-witnesses needs --symbolic")
    if (analysis_budget is not None or analysis_timeout is not None) and not symbolic:
        raise click.UsageError("--analysis-budget and --analysis-timeout need --symbolic")
    if symbolic:
        ctx.exit(_symbolic_diff(ctx, old, new, fmt, fail_on_change, witness_dir,
                                analysis_budget, analysis_timeout))
    from policy_engine.scenarios.diff import (
        default_scenarios,
        diff_json,
        diff_policies,
        render_diff_markdown,
        render_diff_text,
    )

    try:
        before, after = _load_version(ctx, old), _load_version(ctx, new)
    except DiagnosticError as error:
        _report(error.diagnostics)
        ctx.exit(EXIT_INVALID)
    chosen = list(scenario_paths) or [default_scenarios(new)]
    own = None if scenario_paths else (new if os.path.exists(new) else None)
    allow = bool((ctx.find_root().obj or {}).get("allow_outside"))
    result = diff_policies(before, after, chosen, only_for=own, allow_outside=allow)
    if not result.scenarios:
        click.echo(f"warning: no scenario files in {', '.join(chosen)}; only rules are compared "
                   "(pass --scenarios)", err=True)
    if fmt == "json":
        click.echo(json.dumps(diff_json(result), indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(render_diff_markdown(result), nl=False)
    else:
        click.echo(render_diff_text(result), nl=False)
    ctx.exit(EXIT_EXPECTATION if fail_on_change and result.changes else EXIT_OK)


def _symbolic_diff(ctx: click.Context, old: str, new: str, fmt: str, fail_on_change: bool,
                   witness_dir: str | None, analysis_budget: int | None = None,
                   analysis_timeout: float | None = None) -> int:
    from policy_engine.analysis.budget import Budget
    from policy_engine.analysis.symbolic_diff import (
        changes_json,
        compare,
        render_changes,
        write_change_witnesses,
    )

    try:
        before, after = _load_version(ctx, old), _load_version(ctx, new)
    except DiagnosticError as error:
        _report(error.diagnostics)
        return EXIT_INVALID
    result = compare(before.checked, after.checked,
                     Budget.from_options(analysis_budget, analysis_timeout))
    changes = result.changes
    if fmt == "json":
        click.echo(json.dumps(changes_json(changes), indent=2, ensure_ascii=False))
    else:
        click.echo(render_changes(changes, old, new, markdown=fmt == "markdown",
                                  incomplete=result.incomplete), nl=False)
    if result.incomplete:  # W112: what was not analysed, so changes may be missing
        _report(result.incomplete)
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
@click.pass_context
def lint_command(ctx: click.Context, policies: tuple[str, ...], fmt: str,
                 witness_dir: str | None, notes: bool, analysis_budget: int | None,
                 analysis_timeout: float | None) -> None:
    """Analyse each POLICY: rules that never apply or never decide, conflicts, gaps.

    Every finding about fact sets comes with a witness: facts that show it.
    Exit status: 0 no warnings (notes allowed), 1 warnings found, 2 a policy is invalid.
    """
    from policy_engine.analysis.budget import Budget
    from policy_engine.analysis.lint import lint, report_json, write_witnesses

    code = EXIT_OK
    shown: list[Diagnostic] = []
    payload: list[dict[str, Any]] = []
    warnings = notes_count = 0
    allowed: list[str] = []
    for path in policies:
        try:
            _check_policy_path(ctx, path)
            policy = Policy.load(path)
        except DiagnosticError as error:
            _report(error.diagnostics)
            code = EXIT_INVALID
            continue
        report = lint(policy.checked, Budget.from_options(analysis_budget, analysis_timeout))
        found = [d for d in policy.warnings if not d.is_error] + [
            f.diagnostic for f in report.findings]
        warnings += sum(1 for d in found if d.severity is Severity.WARNING)
        notes_count += sum(1 for d in found if d.severity is Severity.NOTE)
        shown += [d for d in found if notes or d.severity is not Severity.NOTE]
        payload += [d.to_json() for d in policy.warnings] + [
            item for item in report_json(report)
            if notes or item["severity"] != "note"]
        if witness_dir is not None:
            folder = witness_dir if len(policies) == 1 else os.path.join(
                witness_dir, os.path.splitext(os.path.basename(path))[0])
            for written in write_witnesses(report, folder, path):
                click.echo(f"wrote {written}", err=True)
        if report.allowed:
            allowed.append(f"{path}: {report.allowed} finding"
                           f"{'s' if report.allowed != 1 else ''} allowed by '# lint: allow' "
                           "comments")
    if fmt == "json":
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    elif shown:
        click.echo(render_all(shown, limit=10_000))
    for line in allowed:
        click.echo(line, err=True)
    click.echo(f"{len(policies)} analysed: {warnings} warnings, {notes_count} notes", err=True)
    if code == EXIT_OK and warnings:
        code = EXIT_EXPECTATION
    ctx.exit(code)


@cli.command("check")
@click.argument("policies", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--lint/--no-lint", "with_lint", default=True, show_default=True,
              help="Also run the analysis of 'policy lint' and show its warnings.")
@_analysis_options("With --lint: ")
@click.pass_context
def check_command(ctx: click.Context, policies: tuple[str, ...], fmt: str,
                  with_lint: bool, analysis_budget: int | None,
                  analysis_timeout: float | None) -> None:
    """Parse and check each POLICY file without evaluating anything.

    Exit status: 0 no errors (warnings allowed), 2 errors found.
    """
    found: list[Diagnostic] = []
    code = EXIT_OK
    for path in policies:
        try:
            _check_policy_path(ctx, path)
            found += Policy.load(path).check(lint=with_lint, analysis_budget=analysis_budget,
                                             analysis_timeout=analysis_timeout)
        except DiagnosticError as error:
            found += error.diagnostics
            code = EXIT_INVALID
    if fmt == "json":
        click.echo(json.dumps([d.to_json() for d in found], indent=2, ensure_ascii=False))
    else:
        if found:
            _report(found)
        errors = sum(1 for d in found if d.is_error)
        click.echo(f"{len(policies)} checked: {errors} errors, {len(found) - errors} warnings",
                   err=True)
    ctx.exit(code)


@cli.command("schema")
@click.argument("policy_path", metavar="POLICY")
@click.pass_context
def schema_command(ctx: click.Context, policy_path: str) -> None:
    """Print the JSON Schema of POLICY's facts (what a scenario's 'facts:' must satisfy)."""
    policy = _load_or_exit(ctx, policy_path)
    click.echo(json.dumps(policy.schema(), indent=2, ensure_ascii=False))


@cli.command("compile")
@click.argument("policy_path", metavar="POLICY")
@click.pass_context
def compile_command(ctx: click.Context, policy_path: str) -> None:
    """Print the Python code the compiler generates for POLICY (for reading and debugging)."""
    from policy_engine.evaluate.compiler import generated_source

    click.echo(generated_source(_load_or_exit(ctx, policy_path).checked), nl=False)


@cli.command("fmt")
@click.argument("paths", nargs=-1, required=True)
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; show a diff and exit 1 when a file is not formatted.")
@click.pass_context
def fmt_command(ctx: click.Context, paths: tuple[str, ...], check_only: bool) -> None:
    """Rewrite each POLICY file (or folder of them) in the canonical layout, keeping comments.

    Exit status: 0 formatted (or, with --check, already formatted), 1 with --check when a
    file would change, 2 a file does not parse.
    """
    from policy_engine.language.formatter import format_policy, iter_changes

    code = EXIT_OK
    confinement = _confinement(ctx, paths)
    for path in find_files(paths, POLICY_SUFFIXES):
        try:
            # A link is followed only inside the repository (or the folders given): fmt
            # rewrites files in place, and must never rewrite one somewhere else.
            confinement.check(path, "the file to format", named=path in paths)
            check_policy_name(path)
            text = read_text(path, MAX_POLICY_BYTES)
            formatted = format_policy(text, display_path(path))
        except DiagnosticError as error:
            _report(error.diagnostics)
            code = EXIT_INVALID
            continue
        if formatted == text:
            continue
        if check_only:
            click.echo("".join(iter_changes(text, formatted, display_path(path))), nl=False)
            click.echo(f"would reformat {display_path(path)}", err=True)
            code = max(code, EXIT_EXPECTATION)
        else:
            with open(os.path.realpath(path), "w", encoding="utf-8", newline="\n") as handle:
                handle.write(formatted)
            click.echo(f"reformatted {display_path(path)}", err=True)
    ctx.exit(code)


#: Rows not decided reported one by one on standard error; the output has every one.
_BATCH_SHOWN = 50


@cli.command("batch")
@click.argument("policy_path", metavar="POLICY")
@click.argument("input_path", metavar="INPUT")
@click.option("--out", "output_path", required=True, metavar="OUTPUT",
              help="Write one JSON line per input row here ('-' for standard output).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), default=None,
              help="The input format  [default: from INPUT's suffix]")
@click.option("--trace", is_flag=True, help="Add the explanation to each decision.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker processes, at most one per core  [default: one per core; 1 decides "
                   "in this process]")
@click.option("--no-progress", is_flag=True, help="Show no progress bar on a terminal.")
@click.option("--max-row-bytes", type=click.IntRange(min=1), default=1_048_576,
              show_default=True, metavar="N",
              help="A longer row is refused (E307) without being read whole.")
@click.option("--max-depth", type=click.IntRange(min=1), default=64, show_default=True,
              metavar="N", help="A JSON row nested deeper is refused (E307).")
@click.option("--max-digits", type=click.IntRange(min=1), default=100, show_default=True,
              metavar="N", help="A number with more digits written out is refused (E307).")
@click.pass_context
def batch_command(ctx: click.Context, policy_path: str, input_path: str, output_path: str,
                  fmt: str | None, trace: bool, jobs: int | None, no_progress: bool,
                  max_row_bytes: int, max_depth: int, max_digits: int) -> None:
    """Decide every row of INPUT (JSON Lines, CSV or Parquet facts) against POLICY.

    Exit status: 0 every row was decided or refused, 2 a row was invalid or failed (each is
    reported on standard error and in OUTPUT), POLICY or INPUT cannot be read, or OUTPUT
    cannot be written, 3 usage, 130 or 143 stopped by SIGINT or SIGTERM.
    """
    from policy_engine.batch import (
        STANDARD_OUTPUT,
        Batch,
        BatchOutput,
        BatchSummary,
        BatchUsageError,
        Interrupted,
        RowLimits,
        open_batch,
        open_output,
        stop_on_signals,
        worker_count,
    )

    if output_path != "-" and os.path.exists(output_path) and os.path.exists(input_path) \
            and os.path.samefile(output_path, input_path):
        raise click.UsageError("--out must not be the input file")
    try:
        _check_policy_path(ctx, policy_path)
    except DiagnosticError as error:
        _report(error.diagnostics)
        ctx.exit(EXIT_INVALID)
    workers, capped = worker_count(jobs)
    if capped is not None:
        click.echo(f"note: {capped}", err=True)
    limits = RowLimits(max_row_bytes=max_row_bytes, max_depth=max_depth, max_digits=max_digits)
    bar_shown = not no_progress and sys.stderr.isatty()
    reported = [0]

    def report(message: str) -> None:
        reported[0] += 1
        if reported[0] <= _BATCH_SHOWN:
            # Over a progress bar, clear its line first; the bar redraws on its next step.
            click.echo(("\r\x1b[K" if bar_shown else "") + message, err=True)

    def notice(message: str) -> None:
        click.echo(("\r\x1b[K" if bar_shown else "") + f"note: {message}", err=True)

    # From here on, SIGINT and SIGTERM end the run cleanly: workers stopped, the output kept
    # apart from OUTPUT, the counts so far shown, exit status 128 + the signal's number.
    with stop_on_signals():
        batch: Batch | None = None
        output: BatchOutput | None = None
        try:
            batch = open_batch(policy_path, input_path, fmt=fmt, trace=trace, limits=limits)
            output = open_output(output_path)
            if not bar_shown:
                summary = batch.run(output, jobs=workers, report=report, notice=notice)
            else:
                with click.progressbar(length=batch.size, label="deciding",
                                       file=sys.stderr) as bar:
                    summary = batch.run(output, jobs=workers, report=report, notice=notice,
                                        progress=bar.update)
            output.commit()
        except BatchUsageError as error:
            raise click.UsageError(str(error)) from None
        except DiagnosticError as error:
            if any(d.code == "E312" and d.file == STANDARD_OUTPUT for d in error.diagnostics):
                _silence_standard_output()
            _report(error.diagnostics)
            ctx.exit(EXIT_INVALID)
        except Interrupted as stop:
            done = batch.summary if batch is not None else BatchSummary()
            kept = output.abandon(f"interrupted by {stop.name}", done.rows) \
                if output is not None else None
            if output is None:
                where = "nothing was written"
            elif kept is None:
                where = "the output so far could not be kept"
            elif output.direct:
                where = f"{kept} ends with a line marking it as partial"
            else:
                where = f"the output so far is in {kept}; {output.shown} was not written"
            click.echo(f"interrupted by {stop.name}: {where}", err=True)
            click.echo(done.text(), err=True)
            ctx.exit(stop.exit_status)
        finally:
            if output is not None and not output.finished:
                output.discard()
            if batch is not None:
                batch.close()
    if reported[0] > _BATCH_SHOWN:
        click.echo(f"... and {reported[0] - _BATCH_SHOWN} more rows not decided, each in the "
                   "output", err=True)
    click.echo(summary.text(), err=True)
    ctx.exit(EXIT_INVALID if summary.invalid or summary.failed else EXIT_OK)


def main() -> None:
    """Console-script entry point."""
    cli.main()
