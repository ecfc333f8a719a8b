// Loads extension.js as VS Code would, with the `vscode` API and the language client replaced
// by recording stand-ins, activates it, and prints (as JSON) how it starts the server: the
// command, its arguments, the transport, the documents it covers, the initialization options.
// tests/lsp/test_extension.py runs it with settings given as JSON in argv[2].
'use strict';

const Module = require('module');
const path = require('path');

const settings = JSON.parse(process.argv[2] || '{}');
const started = [];
const messages = [];

const vscode = {
  workspace: {
    workspaceFolders: [{ uri: { fsPath: '/work/repo' } }],
    getConfiguration: () => ({ get: (key) => settings[key] }),
    onDidChangeConfiguration: () => ({ dispose() {} }),
  },
  window: { showErrorMessage: (text) => messages.push(text) },
  commands: { registerCommand: (name) => ({ name, dispose() {} }) },
};

class LanguageClient {
  constructor(id, name, serverOptions, clientOptions) {
    started.push({ id, name, server: serverOptions.run, client: clientOptions });
  }
  start() { return settings.fail ? Promise.reject(new Error('spawn policy ENOENT')) : Promise.resolve(); }
  stop() { return Promise.resolve(); }
}

const load = Module._load;
Module._load = function stand_in(request, parent, isMain) {
  if (request === 'vscode') return vscode;
  if (request === 'vscode-languageclient/node') return { LanguageClient, TransportKind: { stdio: 0 } };
  return load.call(this, request, parent, isMain);
};

const extension = require(path.join(__dirname, '..', 'extension.js'));
const context = { subscriptions: [] };
Promise.resolve(extension.activate(context)).then(() => {
  process.stdout.write(JSON.stringify({
    started, messages, subscriptions: context.subscriptions.map((s) => s.name || null),
  }));
});
