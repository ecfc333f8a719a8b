"""Generated fact rows for any policy, for holding the SQL engines to the Python engine.

`generate(policy, count, seed)` draws raw fact sets from a policy's declarations and, when it
has them, its scenario files: valid values, boundaries (the bounds of a whole number or an
amount, 0, the days around the dates the policy names), optional facts left out, and a share of
invalid values (out of range, unknown enumeration values, wrong types, null for a required
fact). `write_jsonl` and `write_parquet` store them; Parquet columns are typed as a warehouse
would type them (amounts as decimals or text), so a value of the wrong type becomes a null.

    python benchmarks/sql_rows.py policies/aliexpress/refund.policy --rows 1000000 \
        --jsonl /tmp/rows.jsonl --parquet /tmp/rows.parquet
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
sys.path.insert(0, str(ROOT / "engine"))

from policy_engine import Policy  # noqa: E402
from policy_engine.check import checked as c  # noqa: E402
from policy_engine.check.types import (  # noqa: E402
    AmountType,
    BoolType,
    DateType,
    EnumType,
    ListType,
    TextType,
    Type,
    WholeType,
)
from policy_engine.sql.tables import arrow_type  # noqa: E402  (the engine's own column types)

#: The share of rows with one invalid value, and of optional facts left out.
INVALID = 0.04
LEFT_OUT = 0.25


def _dates(policy: Policy) -> list[datetime.date]:
    """Days worth trying: those the policy names, their neighbours, and ordinary ones."""
    found = {datetime.date(2024, 3, 15), datetime.date(2025, 1, 1), datetime.date(2019, 12, 31)}
    checked = policy.checked
    exprs: list[c.CExpr] = [j.expr for u in checked.units() for j in u.conjuncts]
    exprs += [d.expr for d in checked.defines]
    for expr in exprs:
        for node in c.walk(expr):
            if isinstance(node, c.Const) and isinstance(node.value, datetime.date):
                found.add(node.value)
    for unit in checked.units():
        if unit.effective is not None:
            found.update(d for d in (unit.effective.start, unit.effective.end) if d)
    days = set()
    for day in found:
        for shift in (-1, 0, 1):
            days.add(day + datetime.timedelta(days=shift))
    return sorted(days)


def _scenarios(path: str | None) -> list[dict[str, Any]]:
    if path is None:
        return []
    from policy_engine.scenarios.yaml_data import read_yaml_file

    folder = Path(path).parent / "scenarios"
    found = []
    for file in sorted(folder.glob("**/*.yaml")):
        try:
            data = read_yaml_file(str(file)).data
        except Exception:
            continue
        if isinstance(data, dict) and isinstance(data.get("facts"), dict):
            found.append(json.loads(json.dumps(data["facts"], default=_plain)))
    return found


def _plain(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


class Generator:
    def __init__(self, policy: Policy, seed: int) -> None:
        self.policy = policy
        self.rng = random.Random(seed)
        self.dates = _dates(policy)
        self.templates = _scenarios(policy.path)

    def value(self, kind: Type) -> Any:
        rng = self.rng
        if isinstance(kind, BoolType):
            return rng.random() < 0.5
        if isinstance(kind, WholeType):
            low = kind.minimum if kind.minimum is not None else -5
            high = kind.maximum if kind.maximum is not None else max(low, 0) + 120
            return rng.choice([low, high, rng.randint(low, high), rng.randint(low, min(high,
                                                                                       low + 60))])
        if isinstance(kind, AmountType):
            low = kind.minimum if kind.minimum is not None else Decimal(0)
            high = kind.maximum if kind.maximum is not None else Decimal(600)
            places = rng.choice((0, 1, 2, 2, 2, 3))
            step = Decimal(1).scaleb(-places)
            span = int((high - low) / step)
            value = low + step * rng.randint(0, max(span, 0))
            value = rng.choice([value, value, low, high]).quantize(step) if places else value
            return format(value, "f")
        if isinstance(kind, DateType):
            day = rng.choice(self.dates) + datetime.timedelta(days=rng.choice((0, 0, 3, 10, 40,
                                                                                -20, 400)))
            return day.isoformat()
        if isinstance(kind, EnumType):
            return rng.choice(kind.values)
        if isinstance(kind, TextType):
            return rng.choice(("", "note", "chargeback filed", "fraud_review", "ümlaut",
                               'say "hi"'))
        if isinstance(kind, ListType):
            return [self.value(kind.element) for _ in range(rng.choice((0, 0, 1, 2, 3)))]
        raise TypeError(kind)

    def invalid(self, kind: Type) -> Any:
        rng = self.rng
        choices: list[Any] = [None, "maybe", 1.5]
        if isinstance(kind, WholeType):
            if kind.minimum is not None:
                choices.append(kind.minimum - 1)
            if kind.maximum is not None:
                choices.append(kind.maximum + 1)
            choices.append("12")
        if isinstance(kind, AmountType):
            choices += ["-1.00", "abc", "1e3"]
        if isinstance(kind, EnumType):
            choices.append("unknown_value")
        if isinstance(kind, ListType):
            choices += [["unknown_item"], [None]]
        if isinstance(kind, BoolType):
            choices += ["yes", 0]
        return rng.choice(choices)

    def row(self) -> dict[str, Any]:
        rng = self.rng
        facts = self.policy.checked.facts
        if self.templates and rng.random() < 0.5:
            row = dict(rng.choice(self.templates))
            for info in facts:  # vary a few values
                if rng.random() < 0.3:
                    row[info.name] = self.value(info.type)
        else:
            row = {}
            for info in facts:
                if info.optional or info.default is not None:
                    if rng.random() < LEFT_OUT:
                        continue
                row[info.name] = self.value(info.type)
        for info in facts:
            if (info.optional or info.default is not None) and info.name in row \
                    and rng.random() < 0.05:
                del row[info.name]
        if rng.random() < INVALID:
            info = rng.choice(facts)
            row[info.name] = self.invalid(info.type)
        if rng.random() < INVALID / 4:
            row["not_a_fact"] = 1
        return row


def generate(policy: Policy, count: int, seed: int = 1) -> list[dict[str, Any]]:
    generator = Generator(policy, seed)
    return [generator.row() for _ in range(count)]


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _cell(kind: Type, value: Any) -> Any:
    """A value as a typed Parquet cell; None for a value of another type."""
    if value is None:
        return None
    if isinstance(kind, BoolType):
        return value if isinstance(value, bool) else None
    if isinstance(kind, WholeType):
        return value if isinstance(value, int) and not isinstance(value, bool) \
            and -2**63 < value < 2**63 else None
    if isinstance(kind, DateType):
        try:
            return datetime.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
    if isinstance(kind, ListType):
        if not isinstance(value, list):
            return None
        return [_cell(kind.element, item) if item is not None else None for item in value]
    return value if isinstance(value, str) else None


def write_parquet(policy: Policy, rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    facts = policy.checked.facts
    columns = {info.name: pa.array([_cell(info.type, row.get(info.name)) for row in rows],
                                   arrow_type(info.type)) for info in facts}
    pq.write_table(pa.table(columns), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("policy")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jsonl", type=Path)
    parser.add_argument("--parquet", type=Path)
    args = parser.parse_args()
    policy = Policy.load(args.policy)
    rows = generate(policy, args.rows, args.seed)
    if args.jsonl:
        write_jsonl(rows, args.jsonl)
    if args.parquet:
        write_parquet(policy, rows, args.parquet)
    print(f"wrote {args.rows} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
