"""What the batch tests share: the policies, rows that decide, and reading an output back."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from policy_engine.batch import BatchSummary, RowLimits, open_batch, run_batch
from policy_engine.policy import Policy
from tests.helpers.paths import ROOT

ALIEXPRESS = str(ROOT / "policies" / "aliexpress" / "refund.policy")
#: Rows whose values grow past what the engine computes (dates, durations, huge numbers).
STRESS = str(Path(__file__).resolve().parent / "stress.policy")

CANCEL = {"request": "cancel_order", "order_status": "awaiting_shipment", "paid": True,
          "payment_method": "paypal"}
NOT_RECEIVED = {"request": "goods_not_received", "order_status": "sent", "paid": True,
                "payment_method": "card", "days_since_sent": 22, "days_without_tracking": 18,
                "goods_received": False}
NOT_COVERED = {"request": "cancel_order", "order_status": "completed", "paid": True}
#: Rows of the AliExpress policy: decided, decided, refused, invalid.
SOME = [json.dumps(CANCEL), json.dumps(NOT_RECEIVED), json.dumps(NOT_COVERED),
        json.dumps({**CANCEL, "paid": "yes"})]


def write_rows(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8",
                    errors="surrogatepass")
    return path


def many(path: Path, count: int) -> Path:
    """`count` rows of the AliExpress policy, the four of SOME in turn."""
    with open(path, "w", encoding="utf-8") as handle:
        for index in range(count):
            handle.write(SOME[index % len(SOME)] + "\n")
    return path


def batch(policy: Policy | str, path: Path, **options: Any
          ) -> tuple[list[dict[str, Any]], BatchSummary, list[str], str]:
    """Runs a batch into memory: the rows read back, the summary, the reports, the text."""
    out = io.StringIO()
    reported: list[str] = []
    summary = run_batch(policy, str(path), out, report=reported.append, **options)
    text = out.getvalue()
    return [json.loads(line) for line in text.splitlines()], summary, reported, text


def outcome(row: dict[str, Any]) -> str:
    if "decision" in row:
        return "decided"
    if "refused" in row:
        return "refused"
    return "failed" if row["error"]["code"] == "E313" else "invalid"


def reconciles(summary: BatchSummary) -> bool:
    return summary.rows == summary.decided + summary.refused + summary.invalid + summary.failed


def run_jsonl(policy: str, path: Path, limits: RowLimits, chunk_rows: int, **options: Any
              ) -> tuple[str, tuple[int, ...], list[str]]:
    """Decides the JSON Lines file at `path` through `open_batch` with `options` for `run`:
    the output, the summary's counts (rows, decided, refused, invalid, failed; they must
    reconcile) and the reported rows."""
    out = io.StringIO()
    reported: list[str] = []
    with open_batch(policy, str(path), limits=limits, fmt="jsonl",
                    chunk_rows=chunk_rows) as opened:
        summary = opened.run(out, report=reported.append, **options)
    assert reconciles(summary)
    counts = (summary.rows, summary.decided, summary.refused, summary.invalid, summary.failed)
    return out.getvalue(), counts, reported


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux: read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def expected_output(folder: Path, count: int) -> tuple[bytes, str]:
    """What `many(count)` gives, and its counts as the summary line shows them: the four
    rows' lines repeated with their line numbers."""
    rows, summary, _, _ = batch(ALIEXPRESS, many(folder / "four.jsonl", 4), jobs=1)
    lines = [line.split(", ", 1)[1] for line in
             (json.dumps(row, ensure_ascii=False) for row in rows)]
    text = "".join(f'{{"line": {n}, {lines[(n - 1) % 4]}\n' for n in range(1, count + 1))
    quarter = count // 4
    counts = (f"rows read: {count} = {summary.decided * quarter} decided + "
              f"{summary.refused * quarter} refused + {summary.invalid * quarter} invalid; ")
    return text.encode("utf-8"), counts


def wait_for_output(folder: Path, process: subprocess.Popen[bytes]) -> None:
    """Waits until the run has written some rows (its temporary file is not empty)."""
    deadline = time.monotonic() + 120  # a hang guard
    while time.monotonic() < deadline:
        if any(p.stat().st_size > 0 for p in folder.glob(".out.jsonl.*.tmp")):
            return
        assert process.poll() is None, "the run ended before it could be stopped"
        time.sleep(0.01)
    raise AssertionError("no output after two minutes")
