"""The language server under test: `policy lsp` started as editors start it, driven by a real
LSP client (pytest-lsp) over its standard input and output."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.helpers.paths import ROOT

#: `policy lsp` as the VS Code extension starts it (`--stdio`), checking without a delay so
#: the tests need not wait for the debounce.
SERVER = [sys.executable, "-m", "policy_engine", "lsp", "--stdio", "--debounce", "0"]


def initialize_params(editor: str) -> types.InitializeParams:
    """What an editor sends first: its real capabilities, and the repository as workspace."""
    return types.InitializeParams(
        capabilities=client_capabilities(editor),
        root_uri=ROOT.as_uri(),
        workspace_folders=[types.WorkspaceFolder(ROOT.as_uri(), ROOT.name)],
    )


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    """A session with the capabilities of VS Code (UTF-16 positions, Markdown hovers).

    One server per test module, as an editor keeps one for a whole session: the tests of a
    module open and change documents in it one after the other."""
    await lsp_client.initialize_session(initialize_params("visual-studio-code"))
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def neovim(lsp_client: LanguageClient) -> AsyncIterator[None]:
    """A session with the capabilities of Neovim 0.11, which offers UTF-8 positions."""
    await lsp_client.initialize_session(initialize_params("neovim"))
    yield
    await lsp_client.shutdown_session()
