"""Writes realistic AliExpress fact rows (JSON Lines) for measuring `policy batch`.

Each row starts from the facts of a shipped scenario under policies/aliexpress/scenarios and
varies them the way real orders vary (days since sending, days without tracking, amounts,
payment methods, evidence, dates), keeping them consistent so that most rows are decided.
Most rows come from scenarios that decide; one in twenty comes from a scenario the policy
refuses (a failed `require` or `ensure`, `otherwise refuse`), and one in two thousand is broken
on purpose (malformed JSON, a wrong type, an unknown fact), so every outcome is exercised. The
scenarios whose facts are themselves invalid are not sampled. The same --seed always gives
the same file.

    python benchmarks/batch_input.py --rows 1000000 --out /tmp/aliexpress.jsonl
    policy batch policies/aliexpress/refund.policy /tmp/aliexpress.jsonl --out /tmp/out.jsonl
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_engine.scenarios.yaml_data import read_yaml_file  # noqa: E402

SCENARIOS = ROOT / "policies" / "aliexpress" / "scenarios"
METHODS = ("card", "paypal", "yandex_money", "qiwi", "webmoney", "alipay_balance",
           "bank_transfer", "western_union")
EVIDENCE = ([], ["photo"], ["video"], ["photo", "video"], ["photo", "video", "other"])
#: One row in this many is broken on purpose.
BROKEN_EVERY = 2000
#: The share of rows drawn from scenarios that expect a refusal.
REFUSED_SHARE = 0.05
#: Scenarios expecting one of these codes have invalid facts; the broken rows stand for them.
INVALID_CODES = ("E304", "E305", "E306")


def load_templates() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The facts of the shipped scenarios, JSON-ready, in file order: those that are decided,
    and those that the policy refuses."""
    decided, refused = [], []
    for path in sorted(SCENARIOS.glob("**/*.yaml")):
        data = read_yaml_file(str(path)).data
        assert isinstance(data, dict)
        facts = json.loads(json.dumps(data["facts"], default=_plain))
        error = (data.get("expect") or {}).get("error")
        if error is None:
            decided.append(facts)
        elif error not in INVALID_CODES:
            refused.append(facts)
    return decided, refused


def _plain(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def vary(template: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of a scenario's facts with the values that differ from order to order changed."""
    facts = dict(template)
    if "days_since_sent" in facts and "sent_date" not in facts:
        facts["days_since_sent"] = rng.choice((rng.randint(0, 45), rng.randint(0, 60)))
        if "days_without_tracking" in facts:
            facts["days_without_tracking"] = rng.randint(0, facts["days_since_sent"])
    if "amount_paid" in facts:
        paid = Decimal(rng.randint(100, 50000)) / 100
        facts["amount_paid"] = format(paid, "f")
        if "requested_partial_amount" in facts:
            facts["requested_partial_amount"] = format(
                Decimal(rng.randint(1, int(paid * 100) - 1)) / 100, "f")
    if "payment_method" in facts:
        facts["payment_method"] = rng.choice(METHODS)
    if "evidence" in facts:
        facts["evidence"] = rng.choice(EVIDENCE)
    if "refund_start_date" in facts and "as_of_date" in facts:
        start = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randint(0, 700))
        facts["refund_start_date"] = start.isoformat()
        facts["as_of_date"] = (start + datetime.timedelta(days=rng.randint(0, 40))).isoformat()
    if "refund_received" in facts and rng.random() < 0.3:
        facts["refund_received"] = not facts["refund_received"]
    return facts


def broken(facts: dict[str, Any], rng: random.Random) -> str:
    """A row that is not a valid fact set, in one of a few realistic ways."""
    kind = rng.randrange(3)
    if kind == 0:
        return json.dumps(facts)[:-1]  # cut off: malformed JSON
    if kind == 1:
        return json.dumps({**facts, "paid": "maybe"})  # a wrong type
    return json.dumps({**facts, "days_since_send": 3})  # an unknown (misspelled) fact


def write_rows(out: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    decided, refused = load_templates()
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        for number in range(1, rows + 1):
            pool = refused if rng.random() < REFUSED_SHARE else decided
            facts = vary(rng.choice(pool), rng)
            line = broken(facts, rng) if number % BROKEN_EVERY == 0 else json.dumps(facts)
            handle.write(line + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="how many rows to write")
    parser.add_argument("--out", type=Path, required=True, help="the JSON Lines file to write")
    parser.add_argument("--seed", type=int, default=8, help="the random seed")
    args = parser.parse_args()
    write_rows(args.out, args.rows, args.seed)
    print(f"wrote {args.rows} rows to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
