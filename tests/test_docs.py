"""The documentation's examples are true of the code: every example in docs/*.md is run.

The fenced blocks in the docs follow these conventions, and each kind is tested here:

- ```policy: a complete policy that checks without errors.
- ```policy-error: a policy with a mistake; the next fenced block, a ```text block, is exactly
  what the checker reports for it (the file is called `example.policy`).
- ```yaml starting with `policy: example.policy`: a scenario for the nearest ```policy block
  above it; the next fenced block, a ```text block, is exactly what `policy eval scenario.yaml`
  prints (standard output and standard error together) with both files in one folder.
- ```yaml starting with `# PATH`: the file at PATH, shown exactly.
- ```console: `$ policy ...` on the first line, then exactly what the command prints on standard
  output, run from the repository root. A command ending in `2>&1` shows standard error too.
- ```pycon: a Python session (`>>>` and `...` lines, then what they print), run as a doctest
  from the repository root; the sessions of one page continue one another.

Finally, the result of every shipped scenario validates against the JSON result schema.
"""

from __future__ import annotations

import doctest
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from policy_engine import schemas
from policy_engine.cli import cli
from policy_engine.core.diagnostics import CODES, DiagnosticError, render_all
from policy_engine.explain.render import to_json
from policy_engine.policy import Policy
from policy_engine.scenarios.runner import PolicyCache, run_scenario

ROOT = Path(__file__).resolve().parent.parent
# docs/tutorial.md runs in a folder of its own files: tests/test_tutorial.py checks it.
DOCS = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "tutorial.md")
EXAMPLE_POLICY = "example.policy"
EXAMPLE_SCENARIO = "scenario.yaml"


@dataclass(frozen=True)
class Block:
    """One fenced block of a Markdown file; `line` is the 1-based line of its opening fence."""

    doc: str
    line: int
    info: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def _blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = lines[index]
        if not opening.startswith("```"):
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        assert end < len(lines), f"{path.name}:{index + 1}: unclosed fenced block"
        body = "\n".join(lines[index + 1 : end])
        blocks.append(Block(path.name, index + 1, opening[3:].strip(), body + "\n"))
        index = end + 1
    return blocks


BLOCKS = [block for doc in DOCS for block in _blocks(doc)]


def _following(block: Block) -> Block:
    """The fenced block after `block`, which must be a ```text block."""
    position = BLOCKS.index(block)
    assert position + 1 < len(BLOCKS), f"{block.id}: no ```text block follows"
    after = BLOCKS[position + 1]
    assert after.doc == block.doc and after.info == "text", (
        f"{block.id}: the next fenced block must be ```text, found ```{after.info} at {after.id}"
    )
    return after


def _policy_above(block: Block) -> Block:
    position = BLOCKS.index(block)
    for candidate in reversed(BLOCKS[:position]):
        if candidate.doc != block.doc:
            break
        if candidate.info == "policy":
            return candidate
    raise AssertionError(f"{block.id}: no ```policy block above this scenario")


def _of_kind(predicate) -> list[Block]:  # type: ignore[no-untyped-def]
    return [block for block in BLOCKS if predicate(block)]


POLICIES = _of_kind(lambda b: b.info == "policy")
POLICY_ERRORS = _of_kind(lambda b: b.info == "policy-error")
SCENARIOS = _of_kind(lambda b: b.info == "yaml" and b.text.startswith("policy: example.policy"))
SHOWN_FILES = _of_kind(lambda b: b.info == "yaml" and b.text.startswith("# "))
CONSOLE = _of_kind(lambda b: b.info == "console")
SESSIONS = _of_kind(lambda b: b.info == "pycon")
SHIPPED = sorted((ROOT / "policies").glob("**/scenarios/**/*.yaml"))


def _ids(blocks: list[Block]) -> list[str]:
    return [block.id for block in blocks]


def _invoke(argv: list[str]) -> tuple[str, str]:
    """Runs the CLI; returns (standard output, standard output and error interleaved)."""
    result = CliRunner().invoke(cli, argv, prog_name="policy")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.stdout, result.output


# ---------------------------------------------------------------- the language


def test_the_docs_have_examples() -> None:
    assert POLICIES and POLICY_ERRORS and SCENARIOS and CONSOLE


@pytest.mark.parametrize("block", POLICIES, ids=_ids(POLICIES))
def test_policy_example_checks(block: Block) -> None:
    try:
        Policy.from_text(block.text, EXAMPLE_POLICY)
    except DiagnosticError as error:
        pytest.fail(f"{block.id}: the example does not check:\n{render_all(error.diagnostics)}")


@pytest.mark.parametrize("block", POLICY_ERRORS, ids=_ids(POLICY_ERRORS))
def test_policy_error_example_reports_what_the_docs_show(block: Block) -> None:
    expected = _following(block).text
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(block.text, EXAMPLE_POLICY)
    assert render_all(caught.value.diagnostics) + "\n" == expected


@pytest.mark.parametrize("block", SCENARIOS, ids=_ids(SCENARIOS))
def test_scenario_example_prints_what_the_docs_show(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _following(block).text
    (tmp_path / EXAMPLE_POLICY).write_text(_policy_above(block).text, encoding="utf-8")
    (tmp_path / EXAMPLE_SCENARIO).write_text(block.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    _, shown = _invoke(["eval", EXAMPLE_SCENARIO])
    assert shown == expected


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize("block", SHOWN_FILES, ids=_ids(SHOWN_FILES))
def test_shown_file_is_the_real_file(block: Block) -> None:
    first, _, rest = block.text.partition("\n")
    path = ROOT / first.removeprefix("# ")
    assert path.read_text(encoding="utf-8") == rest


@pytest.mark.parametrize("block", CONSOLE, ids=_ids(CONSOLE))
def test_console_example_prints_what_the_docs_show(
    block: Block, monkeypatch: pytest.MonkeyPatch
) -> None:
    command, _, expected = block.text.partition("\n")
    assert command.startswith("$ policy "), f"{block.id}: a console block starts with '$ policy'"
    assert not re.search(r"^\$ ", expected, flags=re.M), f"{block.id}: one command per block"
    argv = shlex.split(command.removeprefix("$ policy "))
    both = argv[-1:] == ["2>&1"]
    monkeypatch.chdir(ROOT)
    stdout, shown = _invoke(argv[:-1] if both else argv)
    assert (shown if both else stdout) == expected


SESSION_DOCS = sorted({block.doc for block in SESSIONS})


@pytest.mark.parametrize("doc", SESSION_DOCS)
def test_python_sessions_print_what_the_docs_show(
    doc: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page's sessions continue one another, as a reader typing along would: names defined
    # in one block are there in the next.
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    for block in (block for block in SESSIONS if block.doc == doc):
        test = doctest.DocTestParser().get_doctest(block.text, namespace, block.id, block.doc,
                                                   block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        assert runner.failures == 0, "".join(report)
        namespace = test.globs


# ---------------------------------------------------------------- the JSON result


@pytest.fixture(scope="module")
def result_validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schemas.load("result"))
    return schemas.validator("result")  # type: ignore[no-any-return]


_CACHE = PolicyCache()


@pytest.mark.parametrize("scenario", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_shipped_scenario_result_matches_the_schema(
    scenario: Path, result_validator: Draft202012Validator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = run_scenario(str(scenario.relative_to(ROOT)), cache=_CACHE)
    data = json.loads(json.dumps(to_json(result.report())))
    problems = [f"{e.json_path}: {e.message}" for e in result_validator.iter_errors(data)]
    assert problems == []


@pytest.mark.parametrize("name", schemas.names())
def test_every_schema_field_is_documented(name: str) -> None:
    # In the docs of the command that prints it: cli.md, or the feature's own page.
    cli_md = "\n".join(page.read_text(encoding="utf-8") for page in (ROOT / "docs").glob("*.md"))
    schema = schemas.load(name)
    fields: set[str] = set()

    def collect(node: object) -> None:
        if isinstance(node, dict):
            fields.update(node.get("properties", {}))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(schema)
    assert sorted(f for f in fields if f"`{f}`" not in cli_md) == []


def test_every_diagnostic_code_is_documented() -> None:
    text = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    assert sorted(code for code in CODES if code not in text) == []
