"""policy serve: decisions over HTTP, every one in a decision log (docs/serve.md)."""

from __future__ import annotations

import os

import click

from policy_engine.cli.shell import EXIT_INVALID, EXIT_USAGE, cli, report_diagnostics
from policy_engine.core.diagnostics import DiagnosticError


@cli.command("serve")
@click.argument("paths", metavar="[POLICY_DIR]...", nargs=-1)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; 0.0.0.0 listens on every interface.")
@click.option("--port", type=click.IntRange(0, 65535), default=8181, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes; each loads the policies and writes its own log files.")
@click.option("--decision-log", "decision_log", default="decision-logs", show_default=True,
              metavar="PATH", help="The folder of decision log files, or '-' for standard "
                                   "output.")
@click.option("--no-decision-log", is_flag=True, help="Keep no decision log.")
@click.option("--decision-log-max-bytes", type=click.IntRange(min=4096),
              default=100 * 1024 * 1024, show_default=True, metavar="N",
              help="Start a new log file before one grows past this.")
@click.option("--fsync", type=click.Choice(["always", "interval", "never"]), default="interval",
              show_default=True, help="When log lines are forced to disk: before each answer, "
                                      "every --fsync-interval seconds, or when the system "
                                      "decides.")
@click.option("--fsync-interval", type=click.FloatRange(min=0.01), default=1.0,
              show_default=True, metavar="SECONDS")
@click.option("--on-log-failure", type=click.Choice(["refuse", "answer"]), default="refuse",
              show_default=True, help="When a log line cannot be written (a full disk): "
                                      "answer 503 without the decision, or answer and keep "
                                      "the line in memory until it can be written.")
@click.option("--log-pending-max", type=click.IntRange(min=0), default=10_000,
              show_default=True, metavar="N",
              help="With --on-log-failure answer: the lines kept in memory at most.")
@click.option("--mask", multiple=True, metavar="FACT",
              help="Write this fact's value as \"<masked>\" in the decision log (repeat).")
@click.option("--token-file", type=click.Path(dir_okay=False), metavar="PATH",
              help="YAML with 'tokens:' (for every policy) and 'policies:' (name: tokens); "
                   "requests then need 'Authorization: Bearer TOKEN'.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=1024 * 1024,
              show_default=True, metavar="N")
@click.option("--max-depth", type=click.IntRange(min=1), default=32, show_default=True,
              metavar="N", help="How deeply a request body may nest.")
@click.option("--max-digits", type=click.IntRange(min=1), default=100, show_default=True,
              metavar="N", help="The digits of one number in a request body.")
@click.option("--max-batch", type=click.IntRange(min=1), default=1000, show_default=True,
              metavar="N", help="Fact sets in one decide-many request.")
@click.option("--reload-interval", type=click.FloatRange(min=0.05), default=1.0,
              show_default=True, metavar="SECONDS",
              help="How often policy files are checked for changes.")
@click.option("--deleted-grace", type=click.FloatRange(min=0), default=30.0, show_default=True,
              metavar="SECONDS", help="How long a deleted policy file's policy is still served.")
@click.option("--explain", "default_explain", type=click.Choice(["full", "summary", "none"]),
              default="full", show_default=True,
              help="The explanation when a request has no ?explain=.")
@click.option("--access-log", is_flag=True, help="Log every request on standard error.")
@click.option("--graceful-timeout", type=click.FloatRange(min=0), default=30.0,
              show_default=True, metavar="SECONDS",
              help="On SIGTERM, how long requests in flight may take to finish.")
def serve_command(paths: tuple[str, ...], host: str, port: int, workers: int,
                  decision_log: str, no_decision_log: bool, decision_log_max_bytes: int,
                  fsync: str, fsync_interval: float, on_log_failure: str,
                  log_pending_max: int, mask: tuple[str, ...], token_file: str | None,
                  max_body_bytes: int, max_depth: int, max_digits: int, max_batch: int,
                  reload_interval: float, deleted_grace: float, default_explain: str,
                  access_log: bool, graceful_timeout: float) -> None:
    """Serve decisions over HTTP for every policy in POLICY_DIR (default: the current folder).

    Runs until SIGTERM or SIGINT, then finishes the requests in flight and closes the
    decision log. Exit status: 0 stopped, 2 nothing can be served or a file cannot be read,
    3 usage.
    """
    # Imported here: `policy eval` and `import policy_engine` never load the server's
    # libraries (tests/test_architecture.py checks it).
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise click.UsageError("policy serve needs the 'serve' extra: "
                               "pip install 'policy-engine[serve]'") from None
    from policy_engine.serve.auth import read_token_file
    from policy_engine.serve.config import ServeConfig
    from policy_engine.serve.running import check_servable, run

    if no_decision_log and decision_log != "decision-logs":
        raise click.UsageError("--decision-log and --no-decision-log cannot be used together")
    if decision_log == "-" and workers > 1 and not no_decision_log:
        raise click.UsageError("--decision-log - writes to standard output, which several "
                               "workers cannot share line by line; use a folder, or "
                               "--workers 1")
    for path in paths or (".",):
        if not os.path.exists(path):
            raise click.UsageError(f"no such folder or policy file: {path}")
    tokens: tuple[str, ...] = ()
    policy_tokens: tuple[tuple[str, tuple[str, ...]], ...] = ()
    try:
        if token_file is not None:
            tokens, policy_tokens = read_token_file(token_file)
        config = ServeConfig(
            policy_paths=paths or (".",), host=host, port=port, workers=workers,
            decision_log=None if no_decision_log else decision_log,
            log_max_bytes=decision_log_max_bytes, fsync=fsync,  # type: ignore[arg-type]
            fsync_interval=fsync_interval,
            on_log_failure=on_log_failure,  # type: ignore[arg-type]
            log_pending_max=log_pending_max, mask=mask, tokens=tokens,
            policy_tokens=policy_tokens, max_body_bytes=max_body_bytes, max_depth=max_depth,
            max_digits=max_digits, max_batch=max_batch, reload_interval=reload_interval,
            deleted_grace=deleted_grace,
            default_explain=default_explain,  # type: ignore[arg-type]
            access_log=access_log, graceful_timeout=graceful_timeout)
        problems = check_servable(config)
    except DiagnosticError as error:
        report_diagnostics(error.diagnostics)
        raise SystemExit(EXIT_INVALID) from None
    if problems:
        report_diagnostics(problems)
        click.echo("note: the files above are not served; the others are", err=True)
    if config.decision_log is not None and config.decision_log != "-":
        try:
            os.makedirs(config.decision_log, exist_ok=True)
        except OSError as error:
            raise click.UsageError(f"--decision-log {config.decision_log}: "
                                   f"{error.strerror or error}") from None
    try:
        run(config)
    except OSError as error:  # the port is taken, the address is not this machine's
        click.echo(f"error: cannot serve on {host}:{port}: {error.strerror or error}",
                   err=True)
        raise SystemExit(EXIT_USAGE) from None
