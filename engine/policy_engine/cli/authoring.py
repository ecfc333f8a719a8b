"""policy schema, compile and fmt: what an author runs on a policy file."""

from __future__ import annotations

import json
import os

import click

from policy_engine.cli.shell import (
    EXIT_EXPECTATION,
    EXIT_INVALID,
    EXIT_OK,
    cli,
    confinement_of,
    load_or_exit,
    report_diagnostics,
)
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.core.files import (
    POLICY_SUFFIXES,
    check_policy_name,
    display_path,
    find_files,
    read_text,
)
from policy_engine.policy import MAX_POLICY_BYTES


@cli.command("schema")
@click.argument("policy_path", metavar="POLICY")
@click.pass_context
def schema_command(ctx: click.Context, policy_path: str) -> None:
    """Print the JSON Schema of POLICY's facts (what a scenario's 'facts:' must satisfy)."""
    policy = load_or_exit(ctx, policy_path)
    click.echo(json.dumps(policy.schema(), indent=2, ensure_ascii=False))


@cli.command("compile")
@click.argument("policy_path", metavar="POLICY")
@click.pass_context
def compile_command(ctx: click.Context, policy_path: str) -> None:
    """Print the Python code the compiler generates for POLICY (for reading and debugging)."""
    from policy_engine.evaluate.compiler import generated_source

    click.echo(generated_source(load_or_exit(ctx, policy_path).checked), nl=False)


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


