"""Diagnostics from the real server: a typo in a policy, a syntax error, lint findings with
their witness, and a scenario's facts checked against the policy it names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.policy import Policy
from tests.helpers.lsp import change, open_file, open_text
from tests.helpers.paths import ROOT
from tests.lsp.conftest import SERVER, initialize_params

ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _expected(text: str, name: str) -> list[tuple[str, int, int]]:
    """The (code, line, column) of what `policy check` reports, 0-based as LSP counts."""
    try:
        Policy.from_text(text, name)
    except DiagnosticError as error:
        return [(d.code, d.location()[1] - 1, d.location()[2] - 1) for d in error.diagnostics]
    return []


def _where(found: list[types.Diagnostic]) -> list[tuple[str, int, int]]:
    return [(str(d.code), d.range.start.line, d.range.start.character) for d in found]


async def test_a_misspelled_fact_is_underlined_with_its_fix(client: LanguageClient) -> None:
    text = ALIEXPRESS.read_text(encoding="utf-8").replace(
        "ensure not paid\n", "ensure not payd\n", 1)
    assert "payd" in text
    uri, found = await open_file(client, ALIEXPRESS, text)
    errors = [d for d in found if d.severity == types.DiagnosticSeverity.Error]
    assert _where(errors) == _expected(text, str(ALIEXPRESS))
    (typo,) = errors
    offset = text.index("payd\n")
    line = text.count("\n", 0, offset)
    column = offset - text.rfind("\n", 0, offset) - 1
    assert typo.range == types.Range(types.Position(line, column),
                                     types.Position(line, column + 4))
    assert typo.source == "policy"
    assert "help: did you mean 'paid'?" in typo.message
    assert typo.data == {"fix": "paid"}

    # The quick fix writes the suggestion in; after it, the error is gone.
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), typo.range, types.CodeActionContext([typo])))
    assert actions is not None
    (fix,) = actions
    assert isinstance(fix, types.CodeAction) and fix.is_preferred
    assert fix.edit is not None and fix.edit.changes is not None
    assert list(fix.edit.changes[uri]) == [types.TextEdit(typo.range, "paid")]
    fixed = await change(client, uri, 2, text.replace("not payd\n", "not paid\n", 1))
    assert not [d for d in fixed if d.severity == types.DiagnosticSeverity.Error]


async def test_a_syntax_error_has_its_position_and_code(client: LanguageClient) -> None:
    text = 'policy p\nfact a: yes/no\ndecision ok\nrule R1 "x":\n  when a = yes\n  then ok\n'
    found = await open_text(client, "untitled:broken.policy", text)
    assert _where(found) == _expected(text, "untitled:broken.policy")
    assert found and found[0].severity == types.DiagnosticSeverity.Error


async def test_every_shipped_policy_gets_what_policy_check_and_lint_report(
        client: LanguageClient) -> None:
    from policy_engine.lsp.diagnostics import analyse

    for path in sorted((ROOT / "policies").glob("**/*.policy")):
        text = path.read_text(encoding="utf-8")
        _, found = await open_file(client, path)
        expected = analyse(text, str(path))
        assert [(str(d.code), d.message.splitlines()[0]) for d in found] == [
            (f.diagnostic.code, (f"{f.diagnostic.label}: " if f.diagnostic.label else "")
             + f.diagnostic.message) for f in expected], path.name


async def test_a_lint_warning_carries_its_witness(client: LanguageClient, tmp_path: Path) -> None:
    text = ('policy p\nfact days: whole number at least 0\ndecision ok\ndecision no\n'
            'rule R1 "first"\n  when days > 5\n  then ok\n  because "a"\n'
            'rule R2 "never"\n  when days > 10\n  then no\n  because "b"\n'
            'otherwise no\n')
    _, found = await open_file(client, tmp_path / "shadowed.policy", text)
    warnings = [d for d in found if d.severity == types.DiagnosticSeverity.Warning]
    assert warnings, found
    witnessed = [d for d in warnings if d.related_information and any(
        r.message.startswith("witness scenario:") for r in d.related_information)]
    assert witnessed, warnings


async def test_a_scenario_with_an_unknown_fact(client: LanguageClient) -> None:
    scenario = ROOT / "policies/aliexpress/scenarios/cancel/closed_order_cancel_not_covered.yaml"
    text = scenario.read_text(encoding="utf-8")
    assert "  request:" in text
    broken = text.replace("  request:", "  reqest:", 1)
    _, found = await open_file(client, scenario, broken)
    codes = [d.code for d in found]
    assert "E305" in codes, found
    unknown = next(d for d in found if d.code == "E305")
    line = broken.splitlines()[unknown.range.start.line]
    assert line[unknown.range.start.character:unknown.range.end.character] == "reqest"
    assert unknown.data == {"fix": "request"}
    # The scenario as shipped has nothing to report.
    _, clean = await open_file(client, scenario.with_name("copy.yaml"), text)
    assert clean == []


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[*SERVER[:-1], "0.25"]),
                    scope="module")
async def debounced(lsp_client: LanguageClient) -> AsyncIterator[None]:
    """A server that waits a quarter of a second after a change, as editors run it."""
    await lsp_client.initialize_session(initialize_params("visual-studio-code"))
    yield
    await lsp_client.shutdown_session()


async def test_quick_changes_are_checked_once(debounced: LanguageClient) -> None:
    # Three keystrokes in a row: only the last version is checked and published.
    uri = "untitled:debounced.policy"
    base = ALIEXPRESS.read_text(encoding="utf-8")
    await open_text(debounced, uri, base)
    for version, typed in enumerate(("ensure not p", "ensure not pa", "ensure not pay"), 2):
        debounced.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangeWholeDocument(
                text=base.replace("ensure not paid", typed, 1))]))
    published = await debounced.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert published.uri == uri and published.version == 4
    assert [d.code for d in published.diagnostics if d.severity == 1] == ["E101"]
