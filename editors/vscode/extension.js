// The VS Code client of `policy lsp`: starts the engine's language server for .policy files
// and scenario YAML files, and restarts it when its settings change.
'use strict';

const path = require('path');
const os = require('os');
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

// `${workspaceFolder}` and a leading `~` in the configured command, as people write paths.
function expand(value) {
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  let expanded = value.replace(/\$\{workspaceFolder\}/g, folder ? folder.uri.fsPath : '');
  if (expanded === '~' || expanded.startsWith('~/')) {
    expanded = path.join(os.homedir(), expanded.slice(1));
  }
  return expanded;
}

function createClient() {
  const config = vscode.workspace.getConfiguration('policyEngine');
  const command = expand(config.get('server.path') || 'policy');
  const args = (config.get('server.args') || ['lsp']).map(expand);
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  // TransportKind.stdio adds `--stdio`, which `policy lsp` accepts.
  const run = {
    command,
    args,
    transport: TransportKind.stdio,
    options: folder ? { cwd: folder.uri.fsPath } : {},
  };
  const serverOptions = { run, debug: run };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'policy' },
      { scheme: 'untitled', language: 'policy' },
      // Scenario files; the server leaves YAML files that are not scenarios alone.
      { scheme: 'file', language: 'yaml' },
    ],
    initializationOptions: { debounce: config.get('server.debounce') },
    outputChannelName: 'Policy Engine',
  };
  return new LanguageClient('policyEngine', 'Policy Engine', serverOptions, clientOptions);
}

async function start() {
  client = createClient();
  try {
    await client.start();
  } catch (error) {
    const setting = 'policyEngine.server.path';
    vscode.window.showErrorMessage(
      `Policy Engine: could not start the language server (${error.message || error}). ` +
      `Install the engine with its 'lsp' extra (pip install 'policy-engine[lsp]') and set ` +
      `'${setting}' to its 'policy' command.`);
  }
}

async function restart() {
  if (client) {
    const running = client;
    client = undefined;
    try {
      await running.stop();
    } catch (error) {
      // A server that never started cannot be stopped; start a new one all the same.
    }
  }
  await start();
}

function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('policyEngine.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('policyEngine.server')) {
        restart();
      }
    }),
  );
  return start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
