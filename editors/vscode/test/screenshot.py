"""Renders docs/images/editors.png: the extension's TextMate colours, a diagnostic and a hover,
as VS Code would show them, drawn in a headless Chromium.

This is not a screenshot of VS Code itself (none runs on the build machine): the colours are
the TextMate grammar's scopes as tokenised by vscode-textmate (test/tokenize.js), the
underline, the quick fix and the hover are what `policy lsp` answers for that text (its
feature functions, called in process), laid out in HTML like VS Code's Dark Modern theme.

    python editors/vscode/test/screenshot.py docs/images/editors.png
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lsprotocol import types

from policy_engine.lsp import actions, hover
from policy_engine.lsp.diagnostics import analyse, to_lsp
from policy_engine.lsp.documents import Document

ROOT = Path(__file__).resolve().parents[3]
POLICY = ROOT / "policies" / "aliexpress" / "refund.policy"
FIRST, LAST = 283, 312  # the lines shown (1-based)

#: Scope prefixes to colours, most specific first (close to VS Code's Dark Modern theme).
COLOURS = [("comment", "#6a9955"), ("string", "#ce9178"), ("constant.numeric", "#b5cea8"),
           ("constant.language", "#569cd6"), ("keyword.other.unit", "#4ec9b0"),
           ("keyword.other.declaration", "#569cd6"), ("keyword.operator.word", "#569cd6"),
           ("keyword", "#c586c0"), ("storage", "#569cd6"), ("entity.name.function", "#dcdcaa"),
           ("entity.name", "#4ec9b0"), ("support.function", "#dcdcaa"),
           ("variable", "#9cdcfe")]


def colour(scopes: list[str]) -> str:
    for scope in reversed(scopes):
        for prefix, value in COLOURS:
            if scope.startswith(prefix):
                return value
    return "#d4d4d4"


def main(out: Path) -> None:
    text = POLICY.read_text(encoding="utf-8").replace(
        "and remedy is partial_refund and not window_expired and strong_evidence",
        "and remdy is partial_refund and not window_expired and strong_evidence", 1)
    document = Document(POLICY.as_uri(), text)
    found = to_lsp(analyse(text, "refund.policy"), document.lines, document.uri)
    typo = next(d for d in found if d.code == "E101")
    fix = actions.code_actions(document, typo.range, [typo])[0].title
    first = text.index("refund_amount = requested_partial_amount")
    at = text.index("refund_amount = requested_partial_amount", first + 1) + len("refund_amount = ")
    shown = hover.hover(document, document.lines.position(at + 2))
    assert shown is not None and isinstance(shown.contents, types.MarkupContent)

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "refund.policy"
        source.write_text(text, encoding="utf-8")
        tokens = json.loads(subprocess.run(
            ["node", str(Path(__file__).with_name("tokenize.js")), str(source)],
            capture_output=True, text=True, check=True).stdout)[0]["lines"]
        page = Path(folder) / "page.html"
        page.write_text(_page(tokens, typo, fix, shown.contents.value,
                              document.lines.position(at)), encoding="utf-8")
        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        assert browser, "chromium is needed"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--screenshot={out.resolve()}",
                        "--window-size=1280,720", page.as_uri()],
                       check=True, capture_output=True, timeout=120)


def _page(tokens: list[list[list[object]]], typo: types.Diagnostic, fix: str, hover_text: str,
          hovered: types.Position) -> str:
    rows = []
    for number in range(FIRST, LAST + 1):
        line = number - 1
        cells, column = [], 0
        for piece, scopes in tokens[line]:
            assert isinstance(piece, str) and isinstance(scopes, list)
            start, end = column, column + len(piece)
            column = end
            style = f"color:{colour(scopes)}"
            if line == typo.range.start.line and start < typo.range.end.character and \
                    end > typo.range.start.character:
                style += ";text-decoration:underline wavy #f14c4c;text-underline-offset:3px"
            cells.append(f'<span style="{style}">{html.escape(piece)}</span>')
        extra = ""
        if line == hovered.line:
            extra = (f'<div class="hover" style="left:{hovered.character}ch">'
                     f"{_markdown(hover_text)}</div>")
        if line == typo.range.start.line:
            message = html.escape(typo.message).replace("\n", "<br>")
            extra += (f'<div class="problem" style="left:{typo.range.start.character}ch">'
                      f'<b>{typo.code}</b> {message}<div class="fix">Quick Fix (Ctrl+.): '
                      f"{html.escape(fix)}</div></div>")
        rows.append(f'<div class="row"><span class="no">{number}</span>'
                    f'<span class="code">{"".join(cells)}{extra}</span></div>')
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin:0; background:#1f1f1f; font:14px/21px 'DejaVu Sans Mono', monospace;
       color:#d4d4d4; }}
.tab {{ background:#181818; color:#ccc; padding:6px 14px; font-family:sans-serif;
        font-size:13px; border-bottom:1px solid #2b2b2b; }}
.row {{ white-space:pre; }}
.no {{ display:inline-block; width:48px; text-align:right; color:#6e7681; padding-right:18px; }}
.code {{ position:relative; }}
.hover, .problem {{ position:absolute; top:22px; z-index:2; white-space:normal; width:620px;
          background:#202020; border:1px solid #454545; padding:8px 12px;
          font-family:sans-serif; font-size:13px; line-height:18px;
          box-shadow:0 2px 8px #000a; }}
.problem {{ width:520px; }}
.hover pre {{ background:#2a2a2a; padding:6px; white-space:pre-wrap;
             font:12px/17px 'DejaVu Sans Mono', monospace; }}
.hover code {{ font-family:'DejaVu Sans Mono', monospace; color:#9cdcfe; }}
.fix {{ margin-top:6px; color:#3794ff; }}
.caption {{ position:fixed; bottom:0; width:100%; background:#007acc; color:white;
            font-family:sans-serif; font-size:12px; padding:3px 12px; }}
</style></head><body><div class="tab">refund.policy — policies/aliexpress</div>
{"".join(rows)}
<div class="caption">Rendered from the extension's TextMate grammar (vscode-textmate) and
policy lsp's own answers, in headless Chromium; not a capture of VS Code.</div>
</body></html>"""


def _markdown(text: str) -> str:
    """The little Markdown the server's hovers use: bold, code, a code block, lists."""
    parts = []
    for block in text.split("\n\n"):
        if block.startswith("```"):
            body = block.split("\n", 1)[1].rsplit("```", 1)[0]
            parts.append(f"<pre>{html.escape(body)}</pre>")
            continue
        block = re.sub(r"\\(.)", r"\1", html.escape(block))
        block = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", block)
        block = re.sub(r"`([^`]+)`", r"<code>\1</code>", block)
        lines = block.split("\n")
        items = [f"<li>{line[2:]}</li>" for line in lines if line.startswith("- ")]
        head = "<br>".join(line for line in lines if not line.startswith("- "))
        parts.append(f"<p>{head}</p>" + (f"<ul>{''.join(items)}</ul>" if items else ""))
    return "".join(parts)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
