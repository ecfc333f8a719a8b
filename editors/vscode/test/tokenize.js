// Tokenizes files with the extension's TextMate grammar, exactly as VS Code does
// (vscode-textmate with the Oniguruma regular expressions of vscode-oniguruma), and prints
// each line's tokens as JSON: [{"file": ..., "lines": [[[text, [scopes...]], ...], ...]}].
// tests/lsp/test_textmate.py runs it on every shipped policy.
'use strict';

const fs = require('fs');
const path = require('path');
const textmate = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const GRAMMAR = path.join(__dirname, '..', 'syntaxes', 'policy.tmLanguage.json');

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) => (scopeName === 'source.policy'
      ? textmate.parseRawGrammar(fs.readFileSync(GRAMMAR, 'utf8'), GRAMMAR)
      : null),
  });
  return registry.loadGrammar('source.policy');
}

function tokenize(grammar, text) {
  let state = textmate.INITIAL;
  return text.split(/\r\n|\r|\n/).map((line) => {
    const result = grammar.tokenizeLine(line, state);
    state = result.ruleStack;
    return result.tokens.map((token) => [line.slice(token.startIndex, token.endIndex),
      token.scopes]);
  });
}

async function main() {
  const grammar = await loadGrammar();
  const files = process.argv.slice(2);
  const out = files.map((file) => ({ file, lines: tokenize(grammar, fs.readFileSync(file, 'utf8')) }));
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
