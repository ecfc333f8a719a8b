"""Batch deciding: raw rows to output lines, where every row ends in exactly one line.

A row is decided, refused (the policy declines on valid facts), invalid (not a fact set for
this policy), or failed (E313: anything unexpected while reading or deciding it, or a worker
process that died on it twice). No exception from one row ends the run, and every message is
made printable first: a lone surrogate or a control character from the input is written as
an escape, so a message can never fail to encode.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from policy_engine.check.types import to_json_value
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.explain.decision import Decision
from policy_engine.policy import Policy

from .history import DecisionLogRows
from .reading import Format
from .rows import DEFAULT_LIMITS, CsvRows, JsonRows, Raw, RowError, RowLimits

#: How many rendered decisions a RowDecider keeps (see `RowDecider.render`).
_RENDERED_KEPT = 1024
#: The longest exception message an E313 line repeats.
_REASON_CHARS = 200

_ENCODER = json.JSONEncoder(ensure_ascii=False)
_SURROGATE = re.compile("[\ud800-\udfff]")
#: Lone surrogates, C0 and C1 control characters and DEL: what a message must not carry.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

Outcome = str  # "decided", "refused", "invalid" or "failed"
Parse = Callable[[object], "Raw | RowError"]


def printable(text: str) -> str:
    """`text` with lone surrogates and control characters written as escapes (`\\ud800`)."""
    if _UNPRINTABLE.search(text) is None:
        return text
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def encodable(text: str) -> str:
    """JSON text that UTF-8 can encode: a lone surrogate inside a string (the only place
    one can be) becomes its JSON escape, which reads back as the same string."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(_json_escape, text)


def _dumps(data: object) -> str:
    return _ENCODER.encode(data)


def describe_exception(error: BaseException) -> str:
    """The class and message of an exception, printable and short: never a traceback."""
    try:
        detail = str(error)
    except Exception:  # a message that cannot be made is left out
        detail = ""
    detail = printable(detail)
    if len(detail) > _REASON_CHARS:
        detail = detail[:_REASON_CHARS] + "..."
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def failure(reason: str) -> RowError:
    """The E313 error of a row that could not be decided, for `reason`."""
    return RowError("E313", f"the row could not be decided: {reason}")


@dataclass
class ChunkResult:
    """The output lines of a list of rows, with their counts and the reports of the rows
    that were not decided (`INPUT:LINE: PATH: MESSAGE [CODE]`)."""

    text: str = ""
    decided: int = 0
    refused: int = 0
    invalid: int = 0
    failed: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.decided + self.refused + self.invalid + self.failed


class ChunkDecider(Protocol):
    """Another way of deciding chunks that a `RowDecider` hands its chunks to when `ready`
    (`quick.QuickLines`)."""

    @property
    def ready(self) -> bool: ...

    def decide_chunk(self, chunk: list[tuple[int, object]], parse: Parse) -> ChunkResult: ...


class RowDecider:
    """Decides raw rows against one policy and renders each as its output line.

    Args:
        policy: the loaded policy.
        file: the input's name, for messages.
        trace: add the explanation (`policy eval --format json`'s `trace`) to each decision.
    """

    def __init__(self, policy: Policy, file: str, *, trace: bool = False) -> None:
        self.policy = policy
        self.file = file
        self.trace = trace
        # One compiled function validates a row and decides on it.
        self._decide: Callable[..., Decision] = policy.decider()
        # The rendered decision by result object: a rule whose outputs are constants returns
        # the same object every time, so most rows are rendered once. Holding the object keeps
        # its id from being reused while it is here.
        self._rendered: dict[int, tuple[Decision, str]] = {}
        self._by_content: dict[tuple[object, ...], str] = {}
        #: The quick path for JSON lines (`quick`), set by the caller when it reads them.
        self.quick: ChunkDecider | None = None

    def decide(self, line: int, raw: Raw | RowError) -> tuple[str, Outcome, str | None]:
        """Returns the output line, the outcome (decided, refused, invalid or failed) and,
        for a row that was not decided, the message to report. Never raises for a row."""
        if isinstance(raw, RowError):
            return self.problem(line, raw)
        try:
            if self.trace:
                decision = self.policy.evaluate(raw, engine="compiled", file=self.file,
                                                prefix=())
            else:
                decision = self._decide(raw, self.file, None, ())
            if decision.refused:
                first = decision.refusal[0]
                if self.trace:  # a refusal is explained like a decision (docs/cli.md)
                    return refused_line(line, first.code, first.label, first.message,
                                    decision.to_json()["trace"]), "refused", None
                return refused_line(line, first.code, first.label, first.message), "refused", None
            if self.trace:
                text = self._traced(line, decision)
            else:
                text = f'{{"line": {line}, {self.render(decision)}'
            return (text if text.isascii() else encodable(text)), "decided", None
        except DiagnosticError as error:
            if not error.diagnostics:
                return self.problem(line, failure("DiagnosticError without a diagnostic"))
            first = error.diagnostics[0]
            return self.problem(line, RowError(first.code, first.message, first.path or "$",
                                               len(error.diagnostics) - 1))
        except Exception as error:  # one row must never end the run
            return self.problem(line, failure(describe_exception(error)))

    def render(self, result: Decision) -> str:
        """The output line of a decision after its line number: `"decision": ... }`."""
        cached = self._rendered.get(id(result))
        if cached is not None and cached[0] is result:
            return cached[1]
        # Rules whose outputs vary (an amount, a count) still give few distinct results: the
        # line is kept by its content. A value's class and `str` say exactly how it renders
        # (`str` keeps a Decimal's exponent; the class tells True from 1).
        outputs = result.outputs
        key = (result.decision, result.rule,
               *[(name, value if value.__class__ is str else (value.__class__, str(value)))
                 for name, value in outputs.items()])
        text = self._by_content.get(key)
        if text is None:
            shown = {name: to_json_value(value) for name, value in outputs.items()}
            text = (f'"decision": {_dumps(result.decision)}, "rule": {_dumps(result.rule)}, '
                    f'"outputs": {_dumps(shown)}}}')
            if len(self._by_content) >= _RENDERED_KEPT:
                self._by_content.clear()
            self._by_content[key] = text
        if outputs.__class__ is MappingProxyType:  # shared: it comes back, as the same object
            if len(self._rendered) >= _RENDERED_KEPT:
                self._rendered.clear()
            self._rendered[id(result)] = (result, text)
        return text

    def _traced(self, line: int, decision: Decision) -> str:
        data = decision.to_json()
        return _dumps({"line": line, "decision": data["decision"], "rule": data["rule"],
                       "outputs": data["outputs"], "trace": data["trace"]})

    def problem(self, line: int, error: RowError) -> tuple[str, Outcome, str | None]:
        """The output line and report of a row that was not decided: invalid, or failed for
        E313."""
        return problem_line(self.file, line, error)

    def decide_chunk(self, chunk: list[tuple[int, object]], parse: Parse) -> ChunkResult:
        """Decides a list of records; the unit of work of a worker process."""
        if self.quick is not None and self.quick.ready:
            return self.quick.decide_chunk(chunk, parse)
        out: list[str] = []
        result = ChunkResult()
        row = self.row
        for line, record in chunk:
            text, outcome, message = row(line, record, parse)
            out.append(text)
            count(result, outcome)
            if message is not None:
                result.messages.append(message)
        result.text = "\n".join(out) + "\n" if out else ""
        return result

    def row(self, line: int, record: object, parse: Parse) -> tuple[str, Outcome, str | None]:
        """Parses and decides one record: its output line, outcome and report (see `decide`).

        The common rows (facts that decide or are refused, no trace) take a short path;
        everything else, and any exception, takes `decide`, which words it.
        """
        try:
            raw = record if isinstance(record, RowError) else parse(record)
        except Exception as error:  # e.g. RecursionError, MemoryError
            raw = failure(describe_exception(error))
        if not self.trace and raw.__class__ is dict:
            try:
                decision = self._decide(raw, self.file, None, ())
                if decision.refusal:
                    first = decision.refusal[0]
                    return refused_line(line, first.code, first.label, first.message), \
                        "refused", None
                text = f'{{"line": {line}, {self.render(decision)}'
                return (text if text.isascii() else encodable(text)), "decided", None
            except Exception:  # `decide` below does it again, and words what went wrong
                pass
        return self.decide(line, raw)


def count(result: ChunkResult, outcome: Outcome) -> None:
    """Counts one row of `outcome` in `result`."""
    if outcome == "decided":
        result.decided += 1
    elif outcome == "refused":
        result.refused += 1
    elif outcome == "invalid":
        result.invalid += 1
    else:
        result.failed += 1


def problem_line(file: str, line: int, error: RowError) -> tuple[str, Outcome, str | None]:
    """The output line, the outcome and the report of a row that was not decided."""
    message, path = printable(error.message), printable(error.path)
    more = f" (and {error.more} more)" if error.more else ""
    report = f"{printable(file)}:{line}: {path}: {message}{more} [{error.code}]"
    outcome = "failed" if error.code == "E313" else "invalid"
    return (_dumps({"line": line, "error": {"code": error.code, "message": message,
                                            "path": path}}), outcome, report)


def failed_chunk(file: str, numbers: list[int], reason: str) -> ChunkResult:
    """The result of rows (by line number) that could not be decided at all, each an E313
    line for `reason`."""
    result = ChunkResult()
    lines = []
    for line in numbers:
        text, _, message = problem_line(file, line, failure(reason))
        lines.append(text)
        result.failed += 1
        if message is not None:
            result.messages.append(message)
    result.text = "\n".join(lines) + "\n" if lines else ""
    return result


def refused_line(line: int, code: str, label: str | None, message: str,
             trace: object = None) -> str:
    data: dict[str, object] = {"line": line, "refused": {"code": code, "label": label,
                                                         "message": printable(message)}}
    if trace is not None:
        data["trace"] = trace
    return _dumps(data)


def record_parser(fmt: Format, header: tuple[str, ...] | None, policy: Policy,
                  limits: RowLimits = DEFAULT_LIMITS) -> Parse:
    """The function that turns one record of `fmt` into raw facts, or a RowError."""
    if fmt == "jsonl":
        return JsonRows(limits).parse  # type: ignore[return-value]
    if fmt == "decision-log":
        return DecisionLogRows(policy, limits).parse  # type: ignore[return-value]
    if fmt == "csv":
        return CsvRows(header or (), policy.checked.facts,  # type: ignore[return-value]
                       limits).parse
    return _parquet_row


def _parquet_row(record: object) -> Raw | RowError:
    assert isinstance(record, dict)  # Parquet rows are dicts already
    return record
