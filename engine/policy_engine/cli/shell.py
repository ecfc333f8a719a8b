"""The `policy` command group: exit codes, error handling and what every command shares.

Exit codes are a contract, documented in docs/cli.md.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from policy_engine import __version__
from policy_engine.core.cache import ENVIRONMENT_SWITCH
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, render_all
from policy_engine.core.files import (
    Confinement,
    check_policy_name,
    display_path,
    forget_standard_input,
)
from policy_engine.policy import Policy

#: A click command function, as the option decorators take and give it.
Command = TypeVar("Command", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_EXPECTATION = 1
EXIT_INVALID = 2
EXIT_USAGE = 3
EXIT_INTERNAL = 4
#: The policy refused to decide on facts whose scenario did not say it would (eval, test).
EXIT_REFUSED = 5
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
                import signal  # only when interrupted: start-up never pays for it

                sys.exit(EXIT_SIGNAL + signal.SIGINT)
            click.echo("aborted", err=True)
            sys.exit(EXIT_USAGE)
        except BrokenPipeError:
            # The reader went away (`policy eval ... | head`); that is not our error.
            silence_standard_output()
            sys.exit(EXIT_OK)
        except OSError as error:  # writing standard output or a file: ENOSPC, EIO, EBADF...
            if os.environ.get("POLICY_DEBUG"):
                raise
            from policy_engine.batch.output import STANDARD_OUTPUT, output_error

            shown = _unwritten_file(error)
            if shown == STANDARD_OUTPUT:
                silence_standard_output()
            report_diagnostics(output_error(shown, error).diagnostics)
            sys.exit(EXIT_INVALID)
        except Exception as error:  # never show a traceback to a policy author
            if os.environ.get("POLICY_DEBUG"):
                raise
            click.echo(f"internal error: {type(error).__name__}: {error}\n"
                       "help: this is a bug in the engine, not in your files; please report it "
                       "with the command you ran (set POLICY_DEBUG=1 for a traceback)", err=True)
            sys.exit(EXIT_INTERNAL)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def silence_standard_output() -> None:
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
    import traceback  # only when a write failed

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


def report_diagnostics(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> None:
    click.echo(render_all(diagnostics), err=True)


def confinement_of(ctx: click.Context, named: Sequence[str]) -> Confinement:
    """The folders this command may read files from (`policy --allow-outside` lifts it)."""
    allow = bool((ctx.find_root().obj or {}).get("allow_outside"))
    return Confinement.here(named, allow_outside=allow)


def check_policy_path_given(ctx: click.Context, path: str) -> None:
    """A policy named on the command line: a `.policy` file, and not a link out of the
    repository (DiagnosticError otherwise)."""
    check_policy_name(path)
    confinement_of(ctx, ()).check(path, "the policy", named=True)


def load_version_given(ctx: click.Context, spec: str) -> Policy:
    """A version of a policy for `policy diff`: a file (checked like any policy named on the
    command line) or REVISION:PATH."""
    from policy_engine.scenarios.diff import load_version

    return load_version(spec, check_file=lambda path: check_policy_path_given(ctx, path))


def load_or_exit(ctx: click.Context, path: str) -> Policy:
    """Loads a policy, or reports why it cannot and exits with status 2."""
    try:
        check_policy_path_given(ctx, path)
        return Policy.load(path)
    except DiagnosticError as error:
        report_diagnostics(error.diagnostics)
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
    forget_standard_input()  # each command reads `-` afresh
    if no_cache:  # the same switch as POLICY_ENGINE_CACHE=0, for this command only
        previous = os.environ.get(ENVIRONMENT_SWITCH)
        os.environ[ENVIRONMENT_SWITCH] = "0"

        def restore() -> None:
            if previous is None:
                os.environ.pop(ENVIRONMENT_SWITCH, None)
            else:
                os.environ[ENVIRONMENT_SWITCH] = previous

        ctx.call_on_close(restore)



def output_options(command: Command) -> Command:
    """`--output FILE` and `--quiet`, for a command whose result goes to standard output."""
    command = click.option(
        "-o", "--output", "output_path", metavar="FILE", default=None,
        help="Write the result to FILE instead of standard output; FILE is replaced only when "
             "the command has run to its end.")(command)
    return click.option(
        "-q", "--quiet", is_flag=True,
        help="Print no result: the exit status says how it went, and problems still go to "
             "standard error.")(command)


def emit(ctx: click.Context, text: str) -> None:
    """Writes part of a command's result: to standard output, to the `--output` file when the
    command finishes (`finish`), or nowhere with `--quiet`."""
    if ctx.params.get("output_path"):
        ctx.meta.setdefault("policy.output", []).append(text)
    elif not ctx.params.get("quiet"):
        click.echo(text, nl=False)


def finish(ctx: click.Context, code: int) -> None:
    """Ends a command: writes its `--output` file whole (a new file renamed over the old, so a
    reader never sees half of it), then exits with `code`."""
    path = ctx.params.get("output_path")
    if path:
        from policy_engine.batch.output import output_error

        text = "".join(ctx.meta.get("policy.output", []))
        folder = os.path.dirname(os.path.abspath(path))
        temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        try:
            with open(temporary, "x", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, path)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            report_diagnostics(output_error(display_path(path), error).diagnostics)
            ctx.exit(EXIT_INVALID)
    ctx.exit(code)


def main() -> None:
    """Console-script entry point (through `policy_engine.launch`)."""
    cli.main()

