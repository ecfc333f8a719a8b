"""Backtest reports: a `Backtest` as text, JSON and a Markdown summary for a pull request.

All three list the transitions (outcome before -> after, rows, share, the amount fact's sum),
changed ones first, then the counts of refused and invalid rows, then example rows of each
changed transition with their two answers. The Markdown stays under `MARKDOWN_LIMIT`
characters (a pull request comment's size), dropping examples first and saying how many.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from policy_engine.explain.render import markdown_code, markdown_text
from policy_engine.sql.backtest import Backtest, Example, Transition

FORMAT = "policy-engine/backtest"
FORMAT_VERSION = 1
#: The Markdown summary's size limit (GitHub's comments hold 65,536).
MARKDOWN_LIMIT = 60_000


def share(part: int, whole: int) -> str:
    """A share as a percentage with two places (`12.50%`), exact to the row."""
    if whole == 0:
        return "0.00%"
    hundredths = (Decimal(part) * 10_000 / Decimal(whole)).quantize(Decimal(1))
    return f"{hundredths / 100:.2f}%"


def answer(side: dict[str, Any]) -> str:
    """One version's answer for an example row, on one line."""
    if "error" in side:
        error = side["error"]
        return f"invalid [{error['code']}] {error['path']}: {error['message']}"
    if side.get("decision") is not None:
        reason = side.get("reason")
        return f"{side['decision']} by rule {side['rule']}" + (f": {reason}" if reason else "")
    refusal = side.get("refused") or side.get("refusal") or [{}]
    first = refusal[0] if isinstance(refusal, list) and refusal else {}
    code = first.get("code", "?") if isinstance(first, dict) else "?"
    message = first.get("message", "") if isinstance(first, dict) else ""
    return f"refused [{code}]: {message}"


def _counts(result: Backtest) -> list[str]:
    lines = [f"changed: {result.changed:,} of {result.rows:,} rows "
             f"({share(result.changed, result.rows)})",
             f"refused: {result.refused[0]:,} before, {result.refused[1]:,} after",
             f"invalid: {result.invalid[0]:,} before, {result.invalid[1]:,} after"]
    if result.other_outputs:
        lines.append(f"same decision, other outputs: {result.other_outputs:,} rows")
    if result.replayed_not:
        lines.append(f"not replayable (a masked fact the policy reads, E604): "
                     f"{result.replayed_not:,} rows")
    return lines


def _amount(result: Backtest, transition: Transition) -> str:
    return "" if result.amount_fact is None else str(transition.amount)


def render_text(result: Backtest) -> str:
    history = ", ".join(result.history)
    out = [f"backtest of {result.old} -> {result.new} over {history} "
           f"({result.rows:,} rows, engine {result.engine})", *_counts(result), ""]
    header = ["before", "after", "rows", "share"]
    if result.amount_fact is not None:
        header.append(f"sum of {result.amount_fact}")
    table = [header] + [[t.before, t.after, f"{t.rows:,}", share(t.rows, result.rows)]
                        + ([_amount(result, t)] if result.amount_fact else [])
                        for t in result.ordered()]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = [cell.ljust(width) if i < 2 else cell.rjust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
    for transition in result.ordered():
        if not transition.changed or not transition.examples:
            continue
        out += ["", f"{transition.before} -> {transition.after}: "
                    f"{len(transition.examples)} of {transition.rows:,} rows"]
        for example in transition.examples:
            out += [f"  {example.file}:{example.line}",
                    f"    before: {answer(example.before)}",
                    f"    after:  {answer(example.after)}"]
    return "\n".join(out) + "\n"


def _example_json(example: Example) -> dict[str, Any]:
    return {"file": example.file, "line": example.line, "before": example.before,
            "after": example.after}


def to_json(result: Backtest) -> dict[str, Any]:
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "old": result.old, "new": result.new, "history": result.history,
        "engine": result.engine, "rows": result.rows, "changed": result.changed,
        "changed_share": share(result.changed, result.rows),
        "refused": {"before": result.refused[0], "after": result.refused[1]},
        "invalid": {"before": result.invalid[0], "after": result.invalid[1]},
        "other_outputs": result.other_outputs, "not_replayable": result.replayed_not,
        "amount_fact": result.amount_fact,
        "transitions": [
            {"before": t.before, "after": t.after, "changed": t.changed, "rows": t.rows,
             "share": share(t.rows, result.rows),
             "amount": None if result.amount_fact is None else str(t.amount),
             "other_outputs": t.other_outputs,
             "examples": [_example_json(e) for e in t.examples] if t.changed else []}
            for t in result.ordered()],
    }


def render_markdown(result: Backtest) -> str:
    head = [f"### Backtest: {markdown_code(result.old)} → {markdown_code(result.new)}", "",
            f"{result.rows:,} rows of " + ", ".join(markdown_code(h) for h in result.history)
            + f" decided under both versions (engine {result.engine}).", ""]
    head += [f"- {markdown_text(line)}" for line in _counts(result)] + [""]
    amount = result.amount_fact is not None
    head.append("| before | after | rows | share |"
                + (f" sum of {markdown_code(result.amount_fact or '')} |" if amount else ""))
    head.append("|---|---|---:|---:|" + ("---:|" if amount else ""))
    for t in result.ordered():
        head.append(f"| {markdown_code(t.before)} | {markdown_code(t.after)} | {t.rows:,} | "
                    f"{share(t.rows, result.rows)} |" + (f" {t.amount} |" if amount else ""))
    text = "\n".join(head) + "\n"
    blocks: list[str] = []
    for transition in result.ordered():
        if not transition.changed or not transition.examples:
            continue
        lines = ["", f"<details><summary>{markdown_text(transition.before)} → "
                     f"{markdown_text(transition.after)}: {len(transition.examples)} of "
                     f"{transition.rows:,} rows</summary>", ""]
        for example in transition.examples:
            lines += [f"- {markdown_code(f'{example.file}:{example.line}')}",
                      f"  - before: {markdown_text(answer(example.before))}",
                      f"  - after: {markdown_text(answer(example.after))}"]
        lines += ["", "</details>"]
        blocks.append("\n".join(lines) + "\n")
    left_out = 0
    for block in blocks:
        if len(text) + len(block) + 200 > MARKDOWN_LIMIT:
            left_out += 1
            continue
        text += block
    if left_out:
        text += f"\n{left_out} transitions' examples left out to keep this under " \
                f"{MARKDOWN_LIMIT:,} characters (`--format json` has them all).\n"
    if len(text) > MARKDOWN_LIMIT:  # a table of very many transitions
        cut = text[:MARKDOWN_LIMIT - 200].rsplit("\n", 1)[0]
        text = cut + "\n\n(cut here: the table is longer than a pull request comment holds; " \
                     "`--format json` has it whole)\n"
    return text
