"""The differential proof's rows and comparisons, cheap enough for every CI run.

Rows are drawn column by column: each fact gets a pool of values from `benchmarks.sql_rows`'
`Generator` (valid values, boundaries, scenario templates, invalid values, facts left out, as
it draws them one row at a time), and a million rows are picked from the pools with
`random.choices` under a fixed seed, so generation is seconds, not minutes, and the same on
every run. The rows are written once per policy, as Parquet (typed columns, a wrong-typed
value a null) and as JSON Lines (every value as drawn, wrong types included).

Outputs are compared whole line by whole line, streaming, so two files of a million lines
never sit in memory; a difference fails with the first differing lines and their numbers.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.sql_rows import INVALID, LEFT_OUT, Generator, _cell
from policy_engine import Policy
from policy_engine.sql.tables import arrow_type

#: Values drawn per fact for its pool; rows pick from the pools.
POOL = 4096
#: The differing lines a failure shows.
SHOWN = 5
_LEFT_OUT = object()


def columns(policy: Policy, count: int, seed: int) -> dict[str, list[Any]]:
    """`count` rows as one list per fact (and `not_a_fact`), `_LEFT_OUT` where the row
    leaves the fact out; the mix of `Generator.row`, drawn a column at a time."""
    rng = random.Random(seed)
    draw = Generator(policy, seed)
    facts = policy.checked.facts
    templates = draw.templates
    # Half the rows start from a scenario's facts (when the policy has scenarios).
    template_of = [rng.randrange(len(templates)) if templates and rng.random() < 0.5 else -1
                   for _ in range(count)]
    drawn: dict[str, list[Any]] = {}
    for info in facts:
        pool = [draw.value(info.type) for _ in range(POOL)]
        values = rng.choices(pool, k=count)
        optional = info.optional or info.default is not None
        for row, template in enumerate(template_of):
            if template >= 0:
                # A template's value, varied in 30% of the rows.
                if rng.random() >= 0.3:
                    values[row] = templates[template].get(info.name, _LEFT_OUT)
            elif optional and rng.random() < LEFT_OUT:
                values[row] = _LEFT_OUT
        if optional:
            for row in rng.sample(range(count), count // 20):
                values[row] = _LEFT_OUT
        drawn[info.name] = values
    # One invalid value in INVALID of the rows, an unknown column in a quarter as many.
    invalid = {info.name: [draw.invalid(info.type) for _ in range(64)] for info in facts}
    for row in rng.sample(range(count), int(count * INVALID)):
        name = rng.choice(facts).name
        drawn[name][row] = rng.choice(invalid[name])
    extra: list[Any] = [_LEFT_OUT] * count
    for row in rng.sample(range(count), int(count * INVALID / 4)):
        extra[row] = 1
    drawn["not_a_fact"] = extra
    return drawn


def write_rows(policy: Policy, drawn: dict[str, list[Any]], folder: Path, *,
               jsonl_rows: int) -> tuple[Path, Path]:
    """`rows.parquet` (every row) and `rows.jsonl` (the first `jsonl_rows`) in `folder`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet, jsonl = folder / "rows.parquet", folder / "rows.jsonl"
    typed = {}
    for info in policy.checked.facts:
        cells = {}  # by the id of a pooled value: each is converted once
        column = []
        for value in drawn[info.name]:
            key = id(value)
            if key not in cells:
                cells[key] = None if value is _LEFT_OUT else _cell(info.type, value)
            column.append(cells[key])
        typed[info.name] = pa.array(column, arrow_type(info.type))
    pq.write_table(pa.table(typed), parquet)
    # Each pooled value is encoded once, as `"name": value`; a row joins its fragments.
    fragments = []
    for name, values in drawn.items():
        encoded: dict[int, str] = {}
        column = []
        for value in itertools.islice(values, jsonl_rows):
            key = id(value)
            if key not in encoded:
                encoded[key] = "" if value is _LEFT_OUT else \
                    f"{json.dumps(name)}: {json.dumps(value, ensure_ascii=False)}"
            column.append(encoded[key])
        fragments.append(column)
    with jsonl.open("w", encoding="utf-8", newline="\n") as handle:
        for row in zip(*fragments, strict=True):
            handle.write("{" + ", ".join(part for part in row if part) + "}\n")
    return parquet, jsonl


def _lines(path: Path, count: int | None) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from itertools.islice(handle, count)


def compare(got: Path, expected: Path, name: str, *, lines: int | None = None) -> int:
    """Fails unless `got` equals `expected` (its first `lines` lines, when given) line for
    line, showing the first differing lines; gives the expected lines that are decisions."""
    decided, differ, number = 0, [], 0
    for number, (mine, theirs) in enumerate(
            itertools.zip_longest(_lines(got, None), _lines(expected, lines)), 1):
        if theirs is not None and theirs.split(b", ", 1)[-1].startswith(b'"decision": '):
            decided += 1
        if mine != theirs and len(differ) < SHOWN:
            differ.append(f"line {number}:\n  got      {_shown(mine)}\n"
                          f"  expected {_shown(theirs)}")
    assert not differ, f"{name}: the outputs differ (of {number} lines)\n" + "\n".join(differ)
    return decided


def _shown(line: bytes | None) -> str:
    if line is None:
        return "(no line)"
    text = line.decode("utf-8", "replace").rstrip("\n")
    return text if len(text) <= 400 else text[:400] + "..."
