"""policy schema, compile and fmt: what an author runs on a policy file."""

from __future__ import annotations

import os

import click

from policy_engine.cli.shell import (
    EXIT_EXPECTATION,
    EXIT_INVALID,
    EXIT_OK,
    cli,
    confinement_of,
    emit,
    finish,
    load_or_exit,
    output_options,
    report_diagnostics,
)
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.core.files import (
    POLICY_SUFFIXES,
    STANDARD_INPUT,
    STANDARD_INPUT_NAME,
    check_policy_name,
    display_path,
    find_files,
    read_text,
)
from policy_engine.policy import MAX_POLICY_BYTES


@cli.command("schema")
@click.argument("policy_path", metavar="POLICY")
@output_options
@click.pass_context
def schema_command(ctx: click.Context, policy_path: str, output_path: str | None,
                   quiet: bool) -> None:
    """Print the JSON Schema of POLICY's facts (what a scenario's 'facts:' must satisfy);
    POLICY may be '-' for standard input."""
    policy = load_or_exit(ctx, policy_path)
    import json  # `json` is imported when output is JSON: not by every `policy eval`
    emit(ctx, json.dumps(policy.schema(), indent=2, ensure_ascii=False) + "\n")
    finish(ctx, EXIT_OK)


@cli.command("compile")
@click.argument("policy_path", metavar="POLICY")
@output_options
@click.pass_context
def compile_command(ctx: click.Context, policy_path: str, output_path: str | None,
                    quiet: bool) -> None:
    """Print the Python code the compiler generates for POLICY (for reading and debugging);
    POLICY may be '-' for standard input."""
    from policy_engine.evaluate.compiler import generated_source

    emit(ctx, generated_source(load_or_exit(ctx, policy_path).checked))
    finish(ctx, EXIT_OK)


@cli.command("fmt")
@click.argument("paths", nargs=-1, required=True)
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; show a diff and exit 1 when a file is not formatted.")
@click.pass_context
def fmt_command(ctx: click.Context, paths: tuple[str, ...], check_only: bool) -> None:
    """Rewrite each POLICY file (or folder of them) in the canonical layout, keeping comments.

    With '-', read the policy from standard input and print it formatted on standard output
    (with --check: print the changes it needs).
    Exit status: 0 formatted (or, with --check, already formatted), 1 with --check when a
    file would change, 2 a file does not parse.
    """
    from policy_engine.language.formatter import format_policy, iter_changes

    code = EXIT_OK
    if STANDARD_INPUT in paths:
        if len(paths) > 1:
            raise click.UsageError("'-' formats standard input alone; give no other path")
        try:
            text = read_text(STANDARD_INPUT, MAX_POLICY_BYTES)
            formatted = format_policy(text, STANDARD_INPUT_NAME)
        except DiagnosticError as error:
            report_diagnostics(error.diagnostics)
            ctx.exit(EXIT_INVALID)
        if not check_only:
            click.echo(formatted, nl=False)
        elif formatted != text:
            click.echo("".join(iter_changes(text, formatted, STANDARD_INPUT_NAME)), nl=False)
            code = EXIT_EXPECTATION
        ctx.exit(code)
    confinement = confinement_of(ctx, paths)
    for path in find_files(paths, POLICY_SUFFIXES):
        try:
            # A link is followed only inside the repository (or the folders given): fmt
            # rewrites files in place, and must never rewrite one somewhere else.
            confinement.check(path, "the file to format", named=path in paths)
            check_policy_name(path)
            text = read_text(path, MAX_POLICY_BYTES)
            formatted = format_policy(text, display_path(path))
        except DiagnosticError as error:
            report_diagnostics(error.diagnostics)
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


