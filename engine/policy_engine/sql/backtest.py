"""Backtests: a change of policy decided over history, as a transition matrix with examples.

`backtest(old, new, history)` decides every row of a history (files of fact rows, the output
of a server's decision log, or a folder of them) under both versions of a policy, with the
same engines and the same readers as `policy batch`, so each version's answer for a row is
exactly what `policy batch --engine ...` writes for it. Each row's outcome before and after
(a decision, a refusal with its code and label, an invalid row with its code) is counted per
transition, with the sum of an amount fact, and the first rows of each transition are kept
as examples, decided again with the library (`Policy.evaluate`) for their two explanations.
`reports` renders the result as text, JSON and Markdown.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, Inexact, InvalidOperation
from typing import Any

from policy_engine.batch.deciding import (
    RowDecider,
    describe_exception,
    failure,
    record_parser,
)
from policy_engine.batch.reading import SUFFIXES, infer_format
from policy_engine.batch.rows import DEFAULT_LIMITS, RowError, RowLimits
from policy_engine.batch.running import open_batch
from policy_engine.check.types import AmountType
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.files import display_path
from policy_engine.policy import Policy

#: Examples kept per transition, by default.
EXAMPLES = 3
#: The suffixes of the files read in a history folder (decision logs may end in .log).
HISTORY_SUFFIXES = (*sorted(SUFFIXES), ".log")


@dataclass(frozen=True)
class Example:
    """A row of one transition: where it is, and each version's answer explained."""

    file: str
    line: int
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass
class Transition:
    """The rows whose outcome went from `before` to `after` (the same when unchanged)."""

    before: str
    after: str
    rows: int = 0
    amount: Decimal = Decimal(0)
    other_outputs: int = 0  # same decision, other outputs
    examples: list[Example] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass
class Backtest:
    """What a change does to a history (see the module docstring)."""

    old: str
    new: str
    history: list[str]
    engine: str
    amount_fact: str | None
    rows: int = 0
    transitions: dict[tuple[str, str], Transition] = field(default_factory=dict)
    refused: tuple[int, int] = (0, 0)
    invalid: tuple[int, int] = (0, 0)
    replayed_not: int = 0  # decision-log lines that cannot be replayed (E604)

    @property
    def changed(self) -> int:
        return sum(t.rows for t in self.transitions.values() if t.changed)

    @property
    def other_outputs(self) -> int:
        return sum(t.other_outputs for t in self.transitions.values())

    def ordered(self) -> list[Transition]:
        """Changed transitions first, most rows first; then the unchanged, most rows first."""
        return sorted(self.transitions.values(),
                      key=lambda t: (not t.changed, -t.rows, t.before, t.after))


def outcome_key(line: dict[str, Any]) -> tuple[str, str]:
    """A batch output line's outcome, as a transition names it, and its status."""
    if "decision" in line:
        return str(line["decision"]), "decided"
    if "refused" in line:
        refused = line["refused"]
        label = refused.get("label")
        return (f"refused {refused['code']}" + (f" {label}" if label else ""), "refused")
    error = line["error"]
    return f"invalid {error['code']}", "failed" if error["code"] == "E313" else "invalid"


def history_files(path: str) -> list[str]:
    """The files of a history: the file itself, or a folder's files with a known suffix, in
    name order (sub-folders included).

    Raises:
        DiagnosticError: E301 when the path does not exist, E606 when it has no file to read.
    """
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise DiagnosticError([Diagnostic("E301", "no such file or folder",
                                          file=display_path(path))])
    found = []
    for folder, _, names in os.walk(path):
        found += [os.path.join(folder, name) for name in names
                  if os.path.splitext(name)[1].lower() in HISTORY_SUFFIXES]
    if not found:
        raise DiagnosticError([Diagnostic(
            "E606", "the history folder has no file to replay",
            file=display_path(path),
            help=f"put files of rows ({', '.join(HISTORY_SUFFIXES)}) in it, such as the "
                 "output of a server's decision log or the input of `policy batch`")])
    return sorted(found)


class _Lines:
    """A `Writable` that keeps each batch output line's outcome, in order."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str, str]] = []  # key, status, outputs as JSON
        self._rest = ""

    def write(self, text: str, /) -> int:
        text = self._rest + text
        *whole, self._rest = text.split("\n")
        for line in whole:
            data = json.loads(line)
            key, status = outcome_key(data)
            outputs = json.dumps(data.get("outputs"), sort_keys=True) if status == "decided" \
                else ""
            self.outcomes.append((key, status, outputs))
        return len(text)

    def flush(self) -> None:
        return None


def _decide_file(policy: Policy, path: str, fmt: str | None, engine: str, limits: RowLimits,
                 spark_master: str, jobs: int | None) -> list[tuple[str, str, str]]:
    """Every row of one history file decided by `policy`, as `policy batch` decides it."""
    batch = open_batch(policy, path, fmt=fmt, limits=limits)
    sink = _Lines()
    try:
        runner: Any = batch
        if engine != "python":
            from policy_engine.sql.batching import SqlBatch

            runner = SqlBatch(batch.policy, batch.reader, engine, spark_master=spark_master)
        runner.run(sink, jobs=jobs)
    finally:
        batch.close()
    return sink.outcomes


def _amount_fact(policy: Policy, name: str | None) -> str | None:
    amounts = [info.name for info in policy.checked.facts if isinstance(info.type, AmountType)]
    if name is None:
        return amounts[0] if amounts else None
    if name not in amounts:
        raise DiagnosticError([Diagnostic(
            "E606", f"'{name}' is not an amount fact of the new policy",
            file=policy.checked.source.name,
            help="amount facts: " + (", ".join(amounts) or "none"))])
    return name


def _records(old: Policy, new: Policy, path: str, fmt: str | None, limits: RowLimits
             ) -> Iterator[tuple[int, object, Callable[[Policy], object]]]:
    """Each row of a history file as read by the batch: its line, its raw facts for `new`
    (or its RowError), and a function giving its raw facts for either version (a decision
    log's masked facts depend on the policy)."""
    batch = open_batch(new, path, fmt=fmt, limits=limits)
    try:
        reader = batch.reader
        parsers = {id(policy): record_parser(reader.fmt, reader.header, policy, limits)
                   for policy in (old, new)}
        for line, record in reader.records():
            def raw(policy: Policy, record: object = record) -> object:
                return record if isinstance(record, RowError) \
                    else parsers[id(policy)](record)

            yield line, raw(new), raw
    finally:
        batch.close()


def _amount(raw: object, name: str | None) -> Decimal | None:
    if name is None or not isinstance(raw, dict):
        return None
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, str, float, Decimal)):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def explained(policy: Policy, raw: object, file: str) -> dict[str, Any]:
    """One version's answer for an example row: `Decision.to_json()`, or the row's error."""
    if isinstance(raw, RowError):
        return {"error": {"code": raw.code, "message": raw.message, "path": raw.path}}
    try:
        return policy.evaluate(raw, file=file, prefix=()).to_json()
    except DiagnosticError as error:
        first = error.diagnostics[0]
        return {"error": {"code": first.code, "message": first.message,
                          "path": first.path or "$"}}


def backtest(old: Policy, new: Policy, history: str, *, old_name: str, new_name: str,
             engine: str = "duckdb", fmt: str | None = None, examples: int = EXAMPLES,
             amount: str | None = None, limits: RowLimits = DEFAULT_LIMITS,
             spark_master: str = "local[*]", jobs: int | None = None,
             opened: Any = None) -> Backtest:
    """Decides every row of `history` under `old` and `new` (see the module docstring).

    With a SQL engine, each chunk of up to `CHUNK_ROWS` rows of a file is decided under both
    versions by one query (`sql.replay`), which also counts the transitions, sums the amounts
    and picks the example lines; `opened` is an engine already open to use (and leave open).

    Raises:
        DiagnosticError: a history file cannot be read, or has no rows (E606); E601 to E603
            from a SQL engine.
        BatchUsageError: a file's format cannot be told.
    """
    files = history_files(history)
    for path in files:
        infer_format(path, fmt)  # every file's format is known before anything is decided
    amount_fact = _amount_fact(new, amount)
    result = Backtest(old_name, new_name, [display_path(p) for p in files], engine, amount_fact)
    if engine != "python":
        try:
            _replay(result, old, new, files, fmt=fmt, examples=examples, limits=limits,
                    spark_master=spark_master, opened=opened)
        except _Rounded:
            # A sum of amounts beyond the 28 digits of Python's decimal context is rounded at
            # each addition, so it depends on the order the rows are added in: only the
            # reference engine, adding them in line order, gives the reference's digits.
            result = Backtest(old_name, new_name, result.history, engine, amount_fact)
            engine = "python"
        else:
            if result.rows == 0:
                raise _no_rows(history)
            return result
    counts = _Counts()
    per_file: list[list[Transition]] = []
    for path in files:
        before = _decide_file(old, path, fmt, engine, limits, spark_master, jobs)
        after = _decide_file(new, path, fmt, engine, limits, spark_master, jobs)
        per_file.append(counts.add(result, before, after))
    result.refused = (counts.refused[0], counts.refused[1])
    result.invalid = (counts.invalid[0], counts.invalid[1])
    if result.rows == 0:
        raise _no_rows(history)
    _amounts_and_examples(result, old, new, files, per_file, fmt, limits, examples)
    return result


#: Sums of amounts in a replay: Python's default precision, with a rounded sum an exception.
_EXACT = Context(prec=28, traps=[Inexact, InvalidOperation])


def _add(total: Decimal, value: Decimal) -> Decimal:
    """`total + value` as Python's default context adds them, when that is exact."""
    try:
        return _EXACT.add(total, value)
    except (Inexact, InvalidOperation):
        raise _Rounded from None


class _Rounded(Exception):
    """A sum of amounts needed more digits than Python's decimal context has (see
    `backtest`)."""


def _no_rows(history: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic(
        "E606", "the history has no rows to replay", file=display_path(history),
        help="give a file with at least one row, or a folder of such files")])


class _Counts:
    """The refused and invalid rows before and after, counted as transitions are."""

    def __init__(self) -> None:
        self.refused = [0, 0]
        self.invalid = [0, 0]

    def add(self, result: Backtest, before: Sequence[tuple[str, str, str]],
            after: Sequence[tuple[str, str, str]]) -> list[Transition]:
        """Counts one file's rows; returns each row's transition, in input order."""
        transitions = result.transitions
        rows: list[Transition] = []
        for old_row, new_row in zip(before, after, strict=True):
            key = (old_row[0], new_row[0])
            transition = transitions.get(key)
            if transition is None:
                transition = transitions[key] = Transition(*key)
            transition.rows += 1
            rows.append(transition)
            if old_row[1] == "decided" and old_row[0] == new_row[0] \
                    and old_row[2] != new_row[2]:
                transition.other_outputs += 1
            for side, row in enumerate((old_row, new_row)):
                if row[1] == "refused":
                    self.refused[side] += 1
                elif row[1] != "decided":
                    self.invalid[side] += 1
            if old_row[0] == "invalid E604":
                result.replayed_not += 1
        result.rows += len(rows)
        return rows


def _amounts_and_examples(result: Backtest, old: Policy, new: Policy, files: list[str],
                          per_file: list[list[Transition]], fmt: str | None,
                          limits: RowLimits, examples: int) -> None:
    """Sums the amount fact per transition and explains the first rows of each, in one more
    pass over the history (its rows come in the order they were decided in)."""
    for path, transitions in zip(files, per_file, strict=True):
        shown_path = display_path(path)
        rows = _records(old, new, path, fmt, limits)
        for position, (line, raw, raw_for) in enumerate(rows):
            transition = transitions[position]
            value = _amount(raw, result.amount_fact)
            if value is not None:
                transition.amount += value
            if len(transition.examples) < examples:
                transition.examples.append(Example(shown_path, line,
                                                   explained(old, raw_for(old), shown_path),
                                                   explained(new, raw, shown_path)))


# ------------------------------------------------------------------ one query (DuckDB, Spark)
#: Rows of a file decided by one query (each chunk is one query deciding both versions).
CHUNK_ROWS = 1_000_000


@dataclass
class _Chunk:
    """Rows of a history file ready for the query: each version's table, the lines left to
    the reference engine, and each line's raw facts for either version."""

    tables: dict[str, Any]
    python: list[int]
    raw: Callable[[Policy, int], object]


def _replay(result: Backtest, old: Policy, new: Policy, files: list[str], *,
            fmt: str | None, examples: int, limits: RowLimits, spark_master: str,
            opened: Any) -> None:
    """Fills `result` deciding each chunk of each file under both versions in one query
    (`sql.replay`); the rows it leaves, and the examples' explanations, Python decides."""
    from policy_engine.sql.engines import open_engine
    from policy_engine.sql.replay import ReplayQuery

    shared = old.checked.facts == new.checked.facts
    query = ReplayQuery(old, new, result.amount_fact, examples, shared)
    scales: dict[tuple[str, str], int] = {}
    engine = opened or open_engine(result.engine, spark_master=spark_master)
    try:
        for path in files:
            batch = open_batch(new, path, fmt=fmt, limits=limits)
            try:
                shown = display_path(path)
                deciders = (RowDecider(old, batch.reader.shown), RowDecider(new,
                                                                           batch.reader.shown))
                file_shared = shared and batch.reader.fmt != "decision-log"
                for chunk in _chunks(old, new, batch.reader, query, file_shared, engine):
                    _tally(result, query, engine, chunk, deciders, shown, examples, scales)
            finally:
                batch.close()
    finally:
        if opened is None:
            engine.close()
    for key, transition in result.transitions.items():
        if key in scales:  # a sum from SQL has 12 places: as many as its amounts had, as in
            # Python, where a sum of decimals keeps the most places of its terms
            try:
                transition.amount = transition.amount.quantize(Decimal(1).scaleb(-scales[key]))
            except InvalidOperation:  # more digits than the context holds
                raise _Rounded from None
    refused, invalid = [0, 0], [0, 0]
    for transition in result.transitions.values():
        for side, outcome in enumerate((transition.before, transition.after)):
            refused[side] += transition.rows if outcome.startswith("refused ") else 0
            invalid[side] += transition.rows if outcome.startswith("invalid ") else 0
        if transition.before == "invalid E604":
            result.replayed_not += transition.rows
    result.refused = (refused[0], refused[1])
    result.invalid = (invalid[0], invalid[1])


def _chunks(old: Policy, new: Policy, reader: Any, query: Any, shared: bool, engine: Any
            ) -> Iterator[_Chunk]:
    from policy_engine.sql import json_lines
    from policy_engine.sql.replay import NEW_TABLE

    names = {id(new): NEW_TABLE, id(old): query.old_table}
    versions = (new,) if shared else (new, old)
    if reader.fmt == "parquet":
        yield from _parquet_chunks(reader, versions, names)
        return
    parsers = {id(p): record_parser(reader.fmt, reader.header, p, reader.limits)
               for p in versions}
    # JSON Lines are parsed and typed by DuckDB itself (`sql.json_lines`) when it can read
    # every fact of both versions; otherwise, and for CSV, decision logs and Spark, by the
    # reference reader and fact stage.
    readers = None
    if reader.fmt == "jsonl" and engine.name == "duckdb" and not any(
            json_lines.supported(p.checked, reader.limits) for p in versions):
        readers = {id(p): json_lines.JsonLinesQuery(p.checked, reader.limits)
                   for p in versions}
    chunk: list[tuple[int, object]] = []
    for record in reader.records():
        chunk.append(record)
        if len(chunk) >= CHUNK_ROWS:
            yield _typed_chunk(chunk, versions, parsers, names, engine, readers)
            chunk = []
    if chunk:
        yield _typed_chunk(chunk, versions, parsers, names, engine, readers)


def _parse(parse: Callable[[object], Any], record: object) -> object:
    if isinstance(record, RowError):
        return record
    try:
        return parse(record)
    except Exception as error:  # a row never ends the run
        return failure(describe_exception(error))


def _typed_chunk(chunk: list[tuple[int, object]], versions: tuple[Policy, ...],
                 parsers: dict[int, Callable[[object], Any]], names: dict[int, str],
                 engine: Any = None, readers: dict[int, Any] | None = None) -> _Chunk:
    """Rows read and typed by the fact stage of each version (as `policy batch` does), or
    by DuckDB (`readers`, the JSON Lines queries of each version), which leaves the lines
    it cannot vouch for to the fact stage."""
    from policy_engine.sql.tables import from_typed

    records = dict(chunk)

    def raw_of(policy: Policy, line: int) -> object:
        parse = parsers.get(id(policy)) or next(iter(parsers.values()))
        return _parse(parse, records[line])

    if readers is not None:
        from policy_engine.sql.json_lines import lines_table
        from policy_engine.sql.json_lines import typed as typed_by

        lines = lines_table(chunk)
        tables = {}
        left: set[int] = set()
        for policy in versions:
            tables[names[id(policy)]], aside = typed_by(engine, readers[id(policy)], lines)
            left.update(aside)
        return _Chunk(_without(tables, left), sorted(left), raw_of)
    typed: dict[int, list[tuple[int, dict[str, Any]]]] = {id(p): [] for p in versions}
    given: dict[int, list[frozenset[str]]] = {id(p): [] for p in versions}
    python: set[int] = set()
    for line, record in chunk:
        rows = []
        for policy in versions:
            parsed = _parse(parsers[id(policy)], record)
            facts = policy._facts.quick(parsed) if isinstance(parsed, dict) else None
            if facts is None or not isinstance(parsed, dict):
                break
            rows.append((policy, facts, frozenset(parsed)))
        else:
            for policy, facts, names_given in rows:
                typed[id(policy)].append((line, facts))
                given[id(policy)].append(names_given)
            continue
        python.add(line)
    tables = {}
    for policy in versions:
        table, aside = from_typed(policy.checked, typed[id(policy)], given[id(policy)])
        python.update(typed[id(policy)][position][0] for position in aside)
        tables[names[id(policy)]] = table
    tables = _without(tables, python)
    return _Chunk(tables, sorted(python), raw_of)


def _parquet_chunks(reader: Any, versions: tuple[Policy, ...], names: dict[int, str]
                    ) -> Iterator[_Chunk]:
    """Parquet record batches converted by Arrow for each version (as `policy batch` does)."""
    import pyarrow.compute as pc

    from policy_engine.batch.reading import parquet_record
    from policy_engine.sql.tables import from_parquet

    first = 1
    for batch in reader.arrow_batches(CHUNK_ROWS):
        tables: dict[str, Any] = {}
        aside: Any = None
        for policy in versions:
            table, odd = from_parquet(policy.checked, batch, first, reader.limits.max_row_bytes)
            tables[names[id(policy)]] = table
            aside = odd if aside is None else pc.or_(aside, odd)
        python = [first + position for position, set_aside in
                  enumerate(aside.to_pylist()) if set_aside] if pc.any(aside).as_py() else []
        start = first

        def raw(policy: Policy, line: int, batch: Any = batch, start: int = start) -> object:
            return parquet_record(batch.slice(line - start, 1).to_pylist()[0], reader.limits)

        yield _Chunk(_without(tables, set(python)), python, raw)
        first += batch.num_rows


def _without(tables: dict[str, Any], lines: set[int]) -> dict[str, Any]:
    """The tables without the rows of `lines` (those the reference engine decides)."""
    if not lines:
        return tables
    import pyarrow as pa
    import pyarrow.compute as pc

    from policy_engine.sql.values import LINE

    dropped = pa.array(sorted(lines), pa.int64())
    return {name: table.filter(pc.invert(pc.is_in(table.column(LINE), value_set=dropped)))
            for name, table in tables.items()}


def _tally(result: Backtest, query: Any, engine: Any, chunk: _Chunk,
           deciders: tuple[RowDecider, RowDecider], shown: str, examples: int,
           scales: dict[tuple[str, str], int]) -> None:
    """Runs the query over one chunk, adds its counts, decides in Python the lines it left,
    and explains the first lines of each changed transition not yet full of examples."""
    from policy_engine.sql.replay import run

    answer = run(engine, query, chunk.tables).to_pydict()
    candidates: dict[tuple[str, str], list[int]] = {}
    transitions = result.transitions
    for kind, before, after, rows, other, amount, scale, line in zip(
            answer["kind"], answer["before"], answer["after"], answer["rows"],
            answer["other"], answer["amount"], answer["scale"], answer["line"], strict=True):
        if kind == "p":
            chunk.python.append(line)
            continue
        key = (before, after)
        if kind == "e":
            candidates.setdefault(key, []).append(line)
            continue
        transition = transitions.get(key)
        if transition is None:
            transition = transitions[key] = Transition(*key)
        transition.rows += int(rows)
        transition.other_outputs += int(other)
        result.rows += int(rows)
        if amount is not None:
            transition.amount = _add(transition.amount, amount)
            scales[key] = max(scales.get(key, 0), int(scale))
    old_decider, new_decider = deciders
    old, new = old_decider.policy, new_decider.policy
    for line in sorted(set(chunk.python)):
        raw_new = chunk.raw(new, line)
        sides = []
        for decider, raw in ((old_decider, chunk.raw(old, line)), (new_decider, raw_new)):
            data = json.loads(decider.decide(line, raw)[0])  # type: ignore[arg-type]
            key_of, status = outcome_key(data)
            sides.append((key_of, status, json.dumps(data.get("outputs"), sort_keys=True)))
        key = (sides[0][0], sides[1][0])
        transition = transitions.get(key)
        if transition is None:
            transition = transitions[key] = Transition(*key)
        transition.rows += 1
        result.rows += 1
        if sides[0][1] == "decided" and key[0] == key[1] and sides[0][2] != sides[1][2]:
            transition.other_outputs += 1
        value = _amount(raw_new, result.amount_fact)
        if value is not None:
            transition.amount = _add(transition.amount, value)
            exponent = value.as_tuple().exponent
            scales[key] = max(scales.get(key, 0), -exponent if isinstance(exponent, int) else 0)
        if transition.changed:
            candidates.setdefault(key, []).append(line)
    for key, lines in candidates.items():
        transition = transitions[key]
        for line in sorted(lines)[:max(0, examples - len(transition.examples))]:
            transition.examples.append(Example(shown, line,
                                               explained(old, chunk.raw(old, line), shown),
                                               explained(new, chunk.raw(new, line), shown)))
