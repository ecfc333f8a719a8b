"""docs/errors.md, the catalogue of diagnostics, covers every code and its examples are true.

The catalogue has one section per code of `diagnostics.CODES`, in the same order, headed
`## CODE: title` with the title from CODES. Its fenced blocks follow these conventions:

- ```policy-error (or ```policy): the wrong example. For a code E0xx, E1xx or E2xx it is a policy
  that `Policy.from_text` refuses with that code; for a warning W0xx, a policy that checks and
  has that warning; for an analysis code (W1xx, N1xx), a policy that checks and that
  `policy_engine.analysis.lint.lint` reports that code for. (```policy-error is the convention of
  docs/language.md: tests/test_docs.py checks that every ```policy block of docs/*.md has no
  errors.)
- For an input or evaluation code (E3xx, E4xx) the wrong example is a ```policy block, saved as
  `example.policy`, and a ```scenario block, saved as `scenario.yaml` beside it, which
  `run_scenario("scenario.yaml")` refuses with that code.
- Some codes cannot be shown by a policy and a scenario: a file over the size limit (E307), a
  path that leaves its folder, a revision that is also a path, output that cannot be written,
  a batch row that cannot be decided, an analysis over its budget. Their sections have only a
  ```text block, and a producer in PRODUCERS below makes the situation in a temporary folder
  and returns what the engine reports.
- The ```text block right after the wrong example is exactly what the engine prints for it
  (`render_all` of the diagnostics: the errors, or the warnings). For an analysis code it is
  `render_all` of the lint findings with the section's code only (each with its notes: the
  regions of facts and the witness), as `policy lint` prints them; the policy's other
  findings are left out.
- ```policy-fixed: the fix; it checks without errors and without the section's own code (for
  an analysis code: `lint` does not report the code). In an E3xx or E4xx section, the wrong
  scenario run against the fixed policy is decided.
- ```scenario-fixed: a corrected scenario, decided when run against the section's policy.
- A heading `### ...` inside a section starts a further case of the same code (another
  mistake that gives it, or another wording of its message): its blocks follow the same
  conventions as the section's, and are tested the same way.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from policy_engine.analysis.lint import lint
from policy_engine.core.diagnostics import CODES, Diagnostic, DiagnosticError, render_all
from policy_engine.policy import Policy
from policy_engine.scenarios.runner import run_scenario
from policy_engine.scenarios.yaml_data import MAX_BYTES

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "errors.md"
EXAMPLE_POLICY = "example.policy"
EXAMPLE_SCENARIO = "scenario.yaml"
WRONG_POLICY = ("policy-error", "policy")
HEADING = re.compile(r"^## (?P<code>[A-Z][0-9]{3}): (?P<title>.+)$")
CODE_LIKE = re.compile(r"^## [A-Z][0-9]{3}\b")

#: Codes the engine never reports today, and why; their examples are expected to fail, strictly,
#: so that the day the code is reported the test says to take it off this list.
NOT_REPORTED: dict[str, str] = {}


@dataclass(frozen=True)
class Block:
    """One fenced block; `line` is the 1-based line of its opening fence."""

    info: str
    text: str
    line: int


@dataclass(frozen=True)
class Section:
    code: str
    title: str
    line: int
    blocks: tuple[Block, ...]
    #: the `### ` heading of a further case of the code; "" for the section's own case
    case: str = ""

    @property
    def id(self) -> str:
        return f"{self.code}-{self.case}" if self.case else self.code

    def first(self, *infos: str) -> Block | None:
        return next((b for b in self.blocks if b.info in infos), None)

    def after(self, block: Block) -> Block | None:
        position = self.blocks.index(block)
        return self.blocks[position + 1] if position + 1 < len(self.blocks) else None


def _parse(text: str) -> tuple[list[Section], list[str], list[Section]]:
    """Returns the code sections, the level-2 headings that look like a code but are not
    written as `## CODE: title`, and the further cases (`### ` headings in a section)."""
    lines = text.split("\n")
    sections: list[Section] = []
    malformed: list[str] = []
    cases: list[Section] = []
    current: tuple[str, str, int] | None = None
    case = ""
    blocks: list[Block] = []

    def close() -> None:
        if current is not None:
            (cases if case else sections).append(Section(*current, tuple(blocks), case))

    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            end = index + 1
            while end < len(lines) and lines[end].rstrip() != "```":
                end += 1
            assert end < len(lines), f"errors.md:{index + 1}: unclosed fenced block"
            body = "\n".join(lines[index + 1 : end]) + "\n"
            blocks.append(Block(line[3:].strip(), body, index + 1))
            index = end + 1
            continue
        if line.startswith("### ") and current is not None:
            close()
            case, blocks = line[4:].strip(), []
            current = (current[0], current[1], index + 1)
        if line.startswith("## "):
            close()
            match = HEADING.match(line)
            current = (match["code"], match["title"], index + 1) if match else None
            case, blocks = "", []
            if match is None and CODE_LIKE.match(line):
                malformed.append(f"errors.md:{index + 1}: {line}")
        index += 1
    close()
    return sections, malformed, cases


SECTIONS, MALFORMED, CASES = _parse(DOC.read_text(encoding="utf-8"))
BY_CODE = {section.code: section for section in SECTIONS}
FIXED_POLICIES = [s for s in SECTIONS + CASES if s.first("policy-fixed")]
FIXED_SCENARIOS = [s for s in SECTIONS + CASES if s.first("scenario-fixed")]


def _uses_scenario(code: str) -> bool:
    return code[:2] in ("E3", "E4")


def _is_analysis(code: str) -> bool:
    """The codes of the static analysis (`policy lint`): W1xx and N1xx."""
    return code[:2] in ("W1", "N1")


def _section(code: str) -> Section:
    assert code in BY_CODE, f"docs/errors.md has no section '## {code}: {CODES[code]}'"
    return BY_CODE[code]


def _check(text: str) -> tuple[Diagnostic, ...]:
    """The errors of a policy, or its warnings when it has no errors."""
    try:
        return tuple(Policy.from_text(text, EXAMPLE_POLICY).warnings)
    except DiagnosticError as error:
        return error.diagnostics


def _lint(text: str, code: str) -> tuple[Diagnostic, ...]:
    """The policy's lint findings with `code`, or its errors when it does not check."""
    try:
        policy = Policy.from_text(text, EXAMPLE_POLICY)
    except DiagnosticError as error:
        return error.diagnostics
    return tuple(f.diagnostic for f in lint(policy.checked).findings if f.code == code)


def _run(folder: Path, scenario: str, policy: str | None = None) -> tuple[Diagnostic, ...]:
    """Runs `scenario.yaml` in `folder` (the working directory): what it reports, the
    diagnostics of invalid input or the reasons of a refusal; () when it is decided."""
    if policy is not None:
        (folder / EXAMPLE_POLICY).write_text(policy, encoding="utf-8")
    (folder / EXAMPLE_SCENARIO).write_text(scenario, encoding="utf-8")
    try:
        result = run_scenario(EXAMPLE_SCENARIO)
    except DiagnosticError as error:
        return error.diagnostics
    return result.decision.refusal


def _too_large_scenario() -> str:
    padding = "# " + "x" * MAX_BYTES + "\n"
    return f"policy: {EXAMPLE_POLICY}\nfacts: {{}}\n{padding}"


def _too_large(folder: Path) -> tuple[Diagnostic, ...]:
    return _run(folder, _too_large_scenario())


#: Codes shown by a ```text block alone, and the function that makes their situation in a
#: temporary folder (the working directory) and returns what the engine reports for it.
def _outside(folder: Path) -> tuple[Diagnostic, ...]:
    (folder.parent / "outside.policy").write_text("policy p\n", encoding="utf-8")
    return _run(folder, "policy: ../outside.policy\nfacts: {}\n")


def _revision_and_path(folder: Path) -> tuple[Diagnostic, ...]:
    from policy_engine.scenarios.diff import load_version

    policy = (ROOT / "policies" / "examples" / "late_delivery.policy").read_text()
    (folder / "policies").mkdir()
    (folder / "policies" / "late_delivery.policy").write_text(policy, encoding="utf-8")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "policy"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       cwd=folder, check=True, capture_output=True, timeout=60)
    (folder / "HEAD:policies").mkdir()
    (folder / "HEAD:policies" / "late_delivery.policy").write_text(policy, encoding="utf-8")
    try:
        load_version("HEAD:policies/late_delivery.policy")
    except DiagnosticError as error:
        return error.diagnostics
    return ()


#: The policy and the rows of the batch examples (E312, E313).
_BATCH_POLICY = """policy orders
fact paid: yes/no
fact tags: list of text default []
decision refund
decision wait
rule paid when paid then refund because "the order was paid"
otherwise wait because "nothing was paid"
"""


def _batch_files(folder: Path, *rows: str) -> None:
    (folder / EXAMPLE_POLICY).write_text(_BATCH_POLICY, encoding="utf-8")
    (folder / "rows.jsonl").write_text("".join(row + "\n" for row in rows), encoding="utf-8")


def _output_unwritable(folder: Path) -> tuple[Diagnostic, ...]:
    """`policy batch example.policy rows.jsonl --out /dev/full`: a disk that is full."""
    from policy_engine.batch import open_output, run_batch

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here to stand for a full disk")
    _batch_files(folder, '{"paid": true}')
    try:
        with open_output("/dev/full") as output:
            run_batch(EXAMPLE_POLICY, "rows.jsonl", output, jobs=1)
            output.commit()
    except DiagnosticError as error:
        return error.diagnostics
    return ()


def _row_not_decided(folder: Path) -> tuple[Diagnostic, ...]:
    """`policy batch ... --max-depth 1000000` over a row nested 100,000 levels deep: the limit
    lets it through, and Python's JSON reader runs out of stack on it."""
    from policy_engine.batch import RowError, RowLimits, read_rows

    _batch_files(folder, '{"paid": true}',
                 '{"paid": true, "tags": ' + "[" * 100_000 + "]" * 100_000 + "}")
    rows = read_rows(Policy.load(EXAMPLE_POLICY), "rows.jsonl",
                     limits=RowLimits(max_depth=1_000_000))
    return tuple(raw.diagnostic("rows.jsonl", line) for line, raw in rows
                 if isinstance(raw, RowError))


def _partial_over_budget(folder: Path) -> tuple[Diagnostic, ...]:
    """`policy ask fees.policy --analysis-budget 100`: the W112 example's fee, too little
    budget."""
    (folder / "fees.policy").write_text(_section("W112").first("policy").text + (
        "fact member: yes/no\n"), encoding="utf-8")
    try:
        Policy.load("fees.policy").residual({"member": True}, analysis_budget=100)
    except DiagnosticError as error:
        return error.diagnostics
    return ()


# ---------------------------------------------------------------- policy serve (E501-E509)
# Each made with the server's own parts (its body parser, registry, service and endpoint
# wrapper), no server started; tests/serve/ shows the same answers over real HTTP.


def _serve_body(body: bytes, many: bool = False) -> tuple[Diagnostic, ...]:
    from policy_engine.serve.bodies import BodyLimits, BodyParser, BodyProblem

    parser = BodyParser(BodyLimits(max_body_bytes=1_048_576, max_depth=32, max_digits=100,
                                   max_batch=1000))
    try:
        if many:
            parser.fact_sets(body)
        else:
            parser.facts(body)
    except BodyProblem as problem:
        return (problem.diagnostic,)
    return ()


def _serve_service(folder: Path, **options: object):  # type: ignore[no-untyped-def]
    from policy_engine.serve.app import Service
    from policy_engine.serve.config import ServeConfig

    _batch_files(folder)
    return Service(ServeConfig(policy_paths=(EXAMPLE_POLICY,), **options))  # type: ignore[arg-type]


def _serve_request(path: str, query: bytes = b"", headers: tuple[tuple[bytes, bytes], ...] = ()):  # type: ignore[no-untyped-def]
    from starlette.requests import Request

    return Request({"type": "http", "method": "POST", "path": path, "query_string": query,
                    "headers": list(headers), "path_params": {"name": "orders"}})


def _serve_problem(call: Callable[[], object]) -> tuple[Diagnostic, ...]:
    from policy_engine.serve.app import Problem

    try:
        call()
    except Problem as problem:
        return problem.diagnostics
    return ()


def _no_policy(folder: Path) -> tuple[Diagnostic, ...]:
    """`policy serve empty/`: a folder with no policy file."""
    from policy_engine.serve.config import ServeConfig
    from policy_engine.serve.running import check_servable

    (folder / "empty").mkdir()
    try:
        check_servable(ServeConfig(policy_paths=("empty",)))
    except DiagnosticError as error:
        return error.diagnostics
    return ()


def _answers_exist(folder: Path) -> tuple[Diagnostic, ...]:
    """`policy ask example.policy --save answers.yaml` when answers.yaml is there."""
    from policy_engine.cli.asking import save_path_taken

    (folder / "answers.yaml").write_text("facts: {}\n", encoding="utf-8")
    taken = save_path_taken("answers.yaml")
    return (taken,) if taken is not None else ()


def _same_name(folder: Path) -> tuple[Diagnostic, ...]:
    """`policy serve policies/` with the same policy in two files."""
    from policy_engine.serve.registry import Registry

    (folder / "policies" / "old").mkdir(parents=True)
    (folder / "policies" / "orders.policy").write_text(_BATCH_POLICY, encoding="utf-8")
    (folder / "policies" / "old" / "orders.policy").write_text(_BATCH_POLICY, encoding="utf-8")
    snapshot = Registry(["policies"]).scan()
    return snapshot.files[os.path.join("policies", "orders.policy")].problem[0]  # type: ignore[index]


def _no_token(folder: Path) -> tuple[Diagnostic, ...]:
    service = _serve_service(folder, decision_log=None, tokens=("s3cret",))
    return _serve_problem(lambda: service.grant(_serve_request("/v1/policies/orders/decide")))


def _log_full(folder: Path) -> tuple[Diagnostic, ...]:
    """A decision log on a full disk (/dev/full stands for it), `--on-log-failure refuse`."""
    import asyncio

    from policy_engine.serve.deciding import decide

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here to stand for a full disk")
    service = _serve_service(folder, decision_log="decision-logs")
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, service.writer._fd)
    os.close(full)
    served = service.registry.snapshot.served["orders"]
    decided = decide(served, {"paid": True}, "none")
    try:
        return _serve_problem(lambda: asyncio.run(service.log_decisions(
            served, [{"paid": True}], [decided], 0.0, ["01KCZ8Y0Q4B8M5V9T3W2X7N6RA"])))
    finally:
        service.writer._closed = True  # its file is /dev/full's now: nothing to sync


def _internal_error(folder: Path) -> tuple[Diagnostic, ...]:
    """A handler that fails: the answer is a 500 whose id is in the server's log."""
    import asyncio
    import json
    from unittest import mock

    from policy_engine.serve import app

    service = _serve_service(folder, decision_log=None)

    async def broken(request: object) -> object:
        raise RuntimeError("a bug")

    handler = app._endpoint(service, "decide", broken)  # type: ignore[arg-type]
    with mock.patch.object(app, "new_id", lambda seconds: "01KCZ8Y0Q4B8M5V9T3W2X7N6RA"), \
            mock.patch.object(app.log, "exception"):
        response = asyncio.run(handler(_serve_request("/v1/policies/orders/decide")))
    shown = json.loads(bytes(response.body))["diagnostics"][0]
    return (Diagnostic(shown["code"], shown["message"], help=shown["help"]),)


def _wrong_explain(folder: Path) -> tuple[Diagnostic, ...]:
    service = _serve_service(folder, decision_log=None)
    request = _serve_request("/v1/policies/orders/decide", b"explain=all")
    return _serve_problem(lambda: service.explain(request))


# ---------------------------------------------------------------- SQL engines (E601 to E607)
_CALENDAR_BY_FACT = """policy orders
fact paid: yes/no
fact placed_on: date
fact today: date
fact country: text
decision refund
decision wait
rule paid when paid and working days from placed_on to today calendar country <= 10
  then refund because "paid recently"
otherwise wait because "nothing was paid"
"""


def _not_in_sql(folder: Path) -> tuple[Diagnostic, ...]:
    """`policy sql example.policy`: a calendar named by a fact."""
    from policy_engine.sql.query import compile_query

    (folder / EXAMPLE_POLICY).write_text(_CALENDAR_BY_FACT, encoding="utf-8")
    try:
        compile_query(Policy.load(EXAMPLE_POLICY).checked)
    except DiagnosticError as error:
        return error.diagnostics
    return ()


def _engine_missing(folder: Path) -> tuple[Diagnostic, ...]:
    """The DuckDB engine without the package duckdb (made unimportable for the call)."""
    import sys

    from policy_engine.sql.engines import DuckDB

    saved = sys.modules.get("duckdb")
    sys.modules["duckdb"] = None  # type: ignore[assignment]  # `import duckdb` now fails
    try:
        DuckDB()
    except DiagnosticError as error:
        return error.diagnostics
    finally:
        if saved is None:
            del sys.modules["duckdb"]
        else:
            sys.modules["duckdb"] = saved
    return ()


def _engine_failed(folder: Path) -> tuple[Diagnostic, ...]:
    """DuckDB running a policy's query over a table whose column `paid` is misspelt."""
    import pyarrow as pa

    from policy_engine.sql.engines import DuckDB
    from policy_engine.sql.query import compile_query

    _batch_files(folder)
    query = compile_query(Policy.load(EXAMPLE_POLICY).checked)
    with DuckDB() as engine:
        try:
            engine.run(query, pa.table({"_line": [1], "payd": [True]}))
        except DiagnosticError as error:
            return error.diagnostics
    return ()


def _log_line(facts: dict[str, object], masked: list[str]) -> bytes:
    import json

    return json.dumps({
        "format": "policy-engine/decision-log", "format_version": 1, "decision_id": "01J",
        "time": "2026-12-07T15:04:05.123456Z",
        "policy": {"name": "orders", "version": None, "sha256": "0" * 64},
        "facts": facts, "masked": masked, "result": {}, "trace_summary": []}).encode()


def _log_problem(folder: Path, record: bytes) -> tuple[Diagnostic, ...]:
    from policy_engine.batch import RowError
    from policy_engine.batch.history import DecisionLogRows

    _batch_files(folder)
    raw = DecisionLogRows(Policy.load(EXAMPLE_POLICY)).parse(record)
    return (raw.diagnostic("decisions.log", 1),) if isinstance(raw, RowError) else ()


def _masked(folder: Path) -> tuple[Diagnostic, ...]:
    """A decision-log line whose fact `paid`, which the policy reads, was masked."""
    return _log_problem(folder, _log_line({"paid": "<masked>"}, ["paid"]))


def _not_a_log_line(folder: Path) -> tuple[Diagnostic, ...]:
    """A plain fact row read as a decision-log line."""
    return _log_problem(folder, b'{"paid": true}')


def _empty_history(folder: Path) -> tuple[Diagnostic, ...]:
    """`policy backtest OLD NEW --history history` with an empty folder `history`."""
    from policy_engine.sql.backtest import history_files

    (folder / "history").mkdir()
    try:
        history_files("history")
    except DiagnosticError as error:
        return error.diagnostics
    return ()


def _engine_timed_out(folder: Path) -> tuple[Diagnostic, ...]:
    """A Spark action given 0.5 seconds that would block for ever: `bounded` (the guard
    around every Spark query) cancels it and reports. No JVM is needed to show the code."""
    import threading

    from policy_engine.sql.engines import bounded

    released = threading.Event()
    try:
        bounded("Spark", released.wait, 0.5, released.set)
    except DiagnosticError as error:
        return error.diagnostics
    return ()


def _quotes(folder: Path, *, with_guide: bool) -> tuple[Diagnostic, ...]:
    """The policy of E119 loaded from a file, beside the guide of E119 or without it."""
    section = BY_CODE["E119"]
    policy, guide = section.first("policy"), section.first("text guide")
    assert policy is not None and guide is not None, "E119 shows its policy and its guide"
    (folder / EXAMPLE_POLICY).write_text(policy.text, encoding="utf-8")
    if with_guide:
        (folder / "guide.txt").write_text(guide.text, encoding="utf-8")
    try:
        Policy.load(EXAMPLE_POLICY, cache=False)
    except DiagnosticError as error:
        return error.diagnostics
    return ()


PRODUCERS: dict[str, Callable[[Path], tuple[Diagnostic, ...]]] = {
    "E119": lambda folder: _quotes(folder, with_guide=True),
    "E120": lambda folder: _quotes(folder, with_guide=False),
    "E307": _too_large,
    "E310": _outside,
    "E311": _revision_and_path,
    "E312": _output_unwritable,
    "E313": _row_not_decided,
    "E601": _not_in_sql,
    "E602": _engine_missing,
    "E603": _engine_failed,
    "E604": _masked,
    "E605": _not_a_log_line,
    "E606": _empty_history,
    "E607": _engine_timed_out,
    "E701": _partial_over_budget,
    "E702": _answers_exist,
    "E501": lambda folder: _serve_body(b'{"paid": tru}'),
    "E502": lambda folder: _serve_body(b'{"tags": ' + b"[" * 40 + b"]" * 40 + b"}"),
    "E503": lambda folder: _serve_body(b'{"paid": true}', many=True),
    "E504": _no_policy,
    "E505": _same_name,
    "E506": _no_token,
    "E507": _log_full,
    "E508": _internal_error,
    "E509": _wrong_explain,
}


def _wrong_example(section: Section) -> tuple[Block | None, Block | None]:
    """The wrong example's policy and scenario blocks (None when the section has none)."""
    policy = section.first(*WRONG_POLICY)
    scenario = section.first("scenario") if _uses_scenario(section.code) else None
    return policy, scenario


def _reported(section: Section, folder: Path) -> tuple[Diagnostic, ...]:
    """What the engine reports for the section's wrong example."""
    if section.code in PRODUCERS and not section.case:
        return PRODUCERS[section.code](folder)
    policy, scenario = _wrong_example(section)
    assert policy is not None, f"errors.md:{section.line}: {section.code} has no wrong example"
    if _uses_scenario(section.code):
        assert scenario is not None, f"errors.md:{section.line}: no ```scenario block"
        return _run(folder, scenario.text, policy.text)
    if _is_analysis(section.code):
        return _lint(policy.text, section.code)
    return _check(policy.text)


def _code_params() -> list[object]:
    return [
        pytest.param(code, id=code, marks=pytest.mark.xfail(reason=NOT_REPORTED[code], strict=True))
        if code in NOT_REPORTED
        else pytest.param(code, id=code)
        for code in CODES
    ]


# ---------------------------------------------------------------- the sections


@pytest.mark.parametrize("code", list(CODES), ids=list(CODES))
def test_every_code_has_a_section(code: str) -> None:
    section = _section(code)
    assert section.title == CODES[code], f"errors.md:{section.line}: the title is not CODES'"


def test_every_section_names_a_real_code_in_order() -> None:
    assert MALFORMED == [], "headings that look like a code must read '## CODE: title'"
    unknown = [f"errors.md:{s.line}: {s.code}" for s in SECTIONS if s.code not in CODES]
    assert unknown == []
    assert [s.code for s in SECTIONS] == list(CODES), "one section per code, in CODES order"


# ---------------------------------------------------------------- the wrong examples


@pytest.mark.parametrize("code", _code_params())
def test_wrong_example_produces_its_code(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _produces_its_code(_section(code), tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_further_case_produces_its_code(
    case: Section, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _produces_its_code(case, tmp_path)


def _produces_its_code(section: Section, folder: Path) -> None:
    code = section.code
    reported = _reported(section, folder)
    assert code in [d.code for d in reported], render_all(reported) or "nothing reported"
    if code[0] in ("W", "N"):
        assert not any(d.is_error for d in reported), render_all(reported)


def _shown(section: Section) -> Block:
    """The ```text block that shows what the engine prints for the section's wrong example."""
    if section.code in PRODUCERS and not section.case:
        shown = section.first("text")
    else:
        policy, scenario = _wrong_example(section)
        last = scenario or policy
        assert last is not None, f"errors.md:{section.line}: {section.code} has no wrong example"
        shown = section.after(last)
    assert shown is not None and shown.info == "text", (
        f"errors.md:{section.line}: a ```text block must follow the wrong example of "
        f"{section.code}"
    )
    return shown


def _update(code: str, printed: str, case: str = "") -> None:
    """Rewrites the section's ```text block with `printed`.

    The file is parsed again first: an earlier rewrite in the same run may have moved the
    block since the module was imported.
    """
    lines = DOC.read_text(encoding="utf-8").split("\n")
    sections, _, cases = _parse("\n".join(lines))
    shown = _shown(next(s for s in sections + cases if s.code == code and s.case == case))
    start = shown.line  # the line after the opening fence (0-based index)
    end = start
    while lines[end].rstrip() != "```":
        end += 1
    lines[start:end] = printed.rstrip("\n").split("\n")
    DOC.write_text("\n".join(lines), encoding="utf-8")


@pytest.mark.parametrize("code", list(CODES), ids=list(CODES))
def test_wrong_example_shows_what_the_engine_prints(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _shows_what_the_engine_prints(_section(code), tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_further_case_shows_what_the_engine_prints(
    case: Section, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _shows_what_the_engine_prints(case, tmp_path)


def _shows_what_the_engine_prints(section: Section, folder: Path) -> None:
    shown = _shown(section)
    printed = render_all(_reported(section, folder)) + "\n"
    if os.environ.get("ERRORS_UPDATE") and printed != shown.text:
        # Refresh the catalogue after a deliberate message change; review the diff.
        _update(section.code, printed, section.case)
        return
    assert printed == shown.text


# ---------------------------------------------------------------- the fixes


@pytest.mark.parametrize("section", FIXED_POLICIES, ids=[s.id for s in FIXED_POLICIES])
def test_fixed_policy_checks(
    section: Section, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = section.first("policy-fixed")
    assert fixed is not None
    try:
        policy = Policy.from_text(fixed.text, EXAMPLE_POLICY)
    except DiagnosticError as error:
        pytest.fail(
            f"errors.md:{fixed.line}: the fix does not check:\n{render_all(error.diagnostics)}"
        )
    warnings = policy.warnings
    assert section.code not in [w.code for w in warnings], render_all(warnings)
    if _is_analysis(section.code):
        found = [f.diagnostic for f in lint(policy.checked).findings]
        assert section.code not in [d.code for d in found], (
            f"errors.md:{fixed.line}: the fix still has {section.code}:\n{render_all(found)}"
        )
    _, scenario = _wrong_example(section)
    if scenario is not None:
        monkeypatch.chdir(tmp_path)
        refused = _run(tmp_path, scenario.text, fixed.text)
        assert refused == (), f"errors.md:{fixed.line}:\n{render_all(refused)}"


@pytest.mark.parametrize("section", FIXED_SCENARIOS, ids=[s.id for s in FIXED_SCENARIOS])
def test_fixed_scenario_is_decided(
    section: Section, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = section.first("scenario-fixed")
    policy, _ = _wrong_example(section)
    assert fixed is not None and policy is not None
    monkeypatch.chdir(tmp_path)
    refused = _run(tmp_path, fixed.text, policy.text)
    assert refused == (), f"errors.md:{fixed.line}:\n{render_all(refused)}"
