"""The language server (`policy lsp`): diagnostics, hover, completion and navigation in editors.

The package stands on the same stages as the CLI: the parsers, the checker and the lint
analysis give the diagnostics; the nodes give the outline, hover and navigation; Lark's parser
states give the words that may come next. Only `server` imports pygls, so the features can be
called and tested without it, and `policy eval` never loads any of this.
"""
