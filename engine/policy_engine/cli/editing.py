"""policy lsp: the language server editors start, over standard input and output."""

from __future__ import annotations

import click

from policy_engine.cli.shell import EXIT_USAGE, cli


@cli.command("lsp")
@click.option("--stdio", is_flag=True,
              help="Talk LSP over standard input and output (the only way; editors pass it).")
@click.option("--debounce", type=click.FloatRange(min=0), default=0.3, show_default=True,
              help="Seconds to wait after a change before checking the document again.")
@click.pass_context
def lsp_command(ctx: click.Context, stdio: bool, debounce: float) -> None:
    """Run the language server: diagnostics, hover, completion, navigation, rename,
    formatting and quick fixes for .policy files and scenario YAML files in an editor.

    Exit status: 0 when the editor ends the session with 'shutdown' and 'exit', 1 otherwise;
    3 when the 'lsp' extra is not installed.
    """
    try:
        # Imported here: pygls is the 'lsp' extra, and no other command needs it.
        from policy_engine.lsp.server import serve
    except ImportError as error:
        # The command cannot be used as installed: a usage problem (3), not invalid input.
        click.echo(f"Error: the language server needs the 'lsp' extra ({error.name} is not "
                   "installed); install it with: pip install 'policy-engine[lsp]'", err=True)
        ctx.exit(EXIT_USAGE)
    ctx.exit(serve(debounce))
