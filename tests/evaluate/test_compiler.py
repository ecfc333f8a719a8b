"""Tests for the compiler: user text is only ever data, never code, and errors stay diagnostics.

Policies whose names, texts, reasons, citations and enumeration values look like Python compile
and evaluate exactly like the interpreter, and the generated module is made only of a small set
of node kinds whose names come from indexes, never from the policy.
"""

from __future__ import annotations

import ast
import re
import traceback
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine.cli import cli
from policy_engine.evaluate.compiler import CompiledPolicy, build_module, generated_source
from policy_engine.evaluate.errors import EvaluationError
from policy_engine.policy import Engine, Policy
from tests.helpers.evaluation import evaluation, typed_facts

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "policies").glob("**/*.policy"))
ENGINES: list[Engine] = ["interpreted", "compiled"]

#: Names in generated code: the facts argument, the fast path's record `r`, runtime helpers
#: (`_add`, `_working_days`), locals (`_v0`) and pooled constants (`_k3`); none can be spelled
#: by a policy author's text.
NAME_ID = re.compile(r"^(f|r|_[a-z]+(?:_[a-z]+)*\d*|_k\d+)$")
FUNCTION_NAME = re.compile(r"^_[a-z]+\d*$")
#: Every kind of node the generated code may contain; anything else (attributes, imports,
#: lambdas, comprehensions, assignments...) would be a way for text to become behaviour.
ALLOWED_NODES = {
    ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.If, ast.Expr,
    ast.UnaryOp, ast.Not, ast.USub, ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.Eq,
    ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.BinOp, ast.Add,
    ast.Sub, ast.Mult, ast.Call, ast.Name, ast.Load, ast.Constant, ast.Subscript, ast.Tuple,
    ast.IfExp,
    # the fast path: locals named from indexes, and one `try` around the decision
    ast.Assign, ast.Store, ast.NamedExpr, ast.Is, ast.IsNot, ast.Try, ast.ExceptHandler,
}

PAYLOAD = "__import__('os').system('echo pwned')"
LINE_SEPARATOR = "\u2028"
TRICKY_TEXT = f'"\\ {LINE_SEPARATOR} {{x}} %s \t\n'  # the decoded value of the literal below
INJECTION = f'''policy injection "{PAYLOAD}"
version "\\"; import os; os.system('x') #"

fact class "lambda: None": one of None, True, False, import, __import__, def
fact import: whole number
fact lambda: optional text
fact f: amount
fact _k0: yes/no default no
fact __builtins__: list of text default []
decision None "exec('1')"
decision yield_
output print: text
output eval: one of None, True, False, import, __import__, def
output exec: amount

rule __import__ "{PAYLOAD}"
  when class is None and import > 1
   and (lambda is missing or lambda == "'); {PAYLOAD}; ('")
   and f > 0.5 and not _k0 and __builtins__ contains "\\" or 1 or \\""
  then None with print = "\\"\\\\ {LINE_SEPARATOR} {{x}} %s \\t\\n", eval = class, exec = f * 2
  because "\'\'\'\\"\\"\\" + {PAYLOAD} + \'\'\'"
  source "eval('1+1')"

otherwise yield_ with print = "def f(): pass", eval = __import__, exec = 0
'''

MATCHING = {"class": "None", "import": 2, "f": "1.5", "__builtins__": ['" or 1 or "']}


@pytest.fixture(scope="module")
def injection() -> Policy:
    return Policy.from_text(INJECTION, "injection.policy")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.param  # type: ignore[no-any-return]


# ---------------------------------------------------------------- text stays data


def test_python_looking_policy_checks_with_its_text_as_written(injection: Policy) -> None:
    checked = injection.checked
    assert checked.title == PAYLOAD
    assert checked.version == "\"; import os; os.system('x') #"
    assert [f.name for f in checked.facts] == ["class", "import", "lambda", "f", "_k0",
                                               "__builtins__"]
    rule = checked.rules[0]
    assert (rule.id, rule.title, rule.decision) == ("__import__", PAYLOAD, "None")
    assert rule.reason == f"'''\"\"\" + {PAYLOAD} + '''"
    assert rule.citation == "eval('1+1')"


def test_python_looking_policy_decides_with_text_as_data(injection: Policy,
                                                         engine: Engine) -> None:
    decision = injection.evaluate(MATCHING, engine=engine)
    assert (decision.decision, decision.rule) == ("None", "__import__")
    assert decision.outputs == {"print": TRICKY_TEXT, "eval": "None", "exec": Decimal("3.0")}
    assert decision.trace.decided_by.reason == f"'''\"\"\" + {PAYLOAD} + '''"


@pytest.mark.parametrize(
    "changed",
    [{"class": "True"}, {"import": 1}, {"lambda": "x"}, {"f": "0.5"}, {"_k0": True},
     {"__builtins__": ["or 1 or"]}],
    ids=["enum", "whole", "text", "amount", "yes/no", "list"],
)
def test_each_python_looking_condition_really_tests_its_fact(injection: Policy, engine: Engine,
                                                             changed: dict[str, object]) -> None:
    decision = injection.evaluate({**MATCHING, **changed}, engine=engine)
    assert (decision.decision, decision.rule) == ("yield_", "otherwise")
    assert decision.outputs == {"print": "def f(): pass", "eval": "__import__", "exec": 0}


def test_injected_text_compared_as_text_matches_only_itself(injection: Policy,
                                                            engine: Engine) -> None:
    sneaky = f"'); {PAYLOAD}; ('"
    assert injection.evaluate({**MATCHING, "lambda": sneaky}, engine=engine).rule == "__import__"
    assert injection.evaluate({**MATCHING, "lambda": PAYLOAD}, engine=engine).rule == "otherwise"


# ---------------------------------------------------------------- the generated module


def _policies() -> list[tuple[str, Policy]]:
    found = [(str(p.relative_to(ROOT)), Policy.load(str(p))) for p in SHIPPED]
    return found + [("injection", Policy.from_text(INJECTION, "injection.policy"))]


POLICIES = _policies()


@pytest.mark.parametrize(("name", "policy"), POLICIES, ids=[n for n, _ in POLICIES])
def test_generated_names_never_come_from_user_text(name: str, policy: Policy) -> None:
    module, pool = build_module(policy.checked)
    names = {node.id for node in ast.walk(module) if isinstance(node, ast.Name)}
    assert names, name
    assert all(NAME_ID.match(identifier) for identifier in names), sorted(names)
    functions = [node.name for node in ast.walk(module) if isinstance(node, ast.FunctionDef)]
    assert all(FUNCTION_NAME.match(function) for function in functions), functions
    arguments = {node.arg for node in ast.walk(module) if isinstance(node, ast.arg)}
    assert arguments <= {"f", "r"}
    assert set(pool) <= {identifier for identifier in names if identifier.startswith("_k")}


@pytest.mark.parametrize(("name", "policy"), POLICIES, ids=[n for n, _ in POLICIES])
def test_generated_module_uses_only_harmless_node_kinds(name: str, policy: Policy) -> None:
    module, _ = build_module(policy.checked)
    kinds = {type(node) for node in ast.walk(module)}
    assert kinds <= ALLOWED_NODES, sorted(k.__name__ for k in kinds - ALLOWED_NODES)
    for node in ast.walk(module):
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name) and not node.keywords


def test_user_text_reaches_the_module_only_as_constants(injection: Policy) -> None:
    module, _ = build_module(injection.checked)
    constants = {node.value for node in ast.walk(module) if isinstance(node, ast.Constant)}
    assert {"class", "import", "lambda", "__builtins__", "None", "__import__", TRICKY_TEXT,
            f"'); {PAYLOAD}; ('"} <= constants
    names = {node.id for node in ast.walk(module) if isinstance(node, ast.Name)}
    assert not names & {"class", "import", "lambda", "None", "__import__", "__builtins__"}


@pytest.mark.parametrize(("name", "policy"), POLICIES, ids=[n for n, _ in POLICIES])
def test_generated_source_is_python_that_builds_the_same_module(name: str,
                                                                policy: Policy) -> None:
    text = generated_source(policy.checked)
    parsed = ast.parse(text)
    module, pool = build_module(policy.checked)

    def shape(tree: ast.AST) -> tuple[list[str], set[str]]:
        functions = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        return functions, {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}

    assert shape(parsed) == shape(module)
    if pool:
        assert text.splitlines()[0].startswith(f"# generated from {policy.checked.source.name}")


LINES = ("policy lines\nfact n: whole number\ndecision d\n\n"
         'rule first when n > 1 then d because "r"\n'
         'rule second\n  when n > 2\n   and n < 9\n  then d because "r"\n')


def _frames_in_policy(error: BaseException) -> list[int]:
    return [f.lineno for f in traceback.extract_tb(error.__traceback__)
            if f.filename == "<policy:lines.policy>"]


def test_compiled_functions_carry_the_policy_file_and_rule_lines() -> None:
    compiled = CompiledPolicy(Policy.from_text(LINES, "lines.policy").checked)
    first, second = compiled._conditions[:2]
    assert first.__code__.co_filename == "<policy:lines.policy>"
    assert (first.__code__.co_firstlineno, second.__code__.co_firstlineno) == (5, 6)
    with pytest.raises(TypeError) as caught:
        compiled.condition(0, {"n": "not a number"})  # unvalidated facts fail inside the code
    assert _frames_in_policy(caught.value) == [5]


def test_compiled_conditions_map_each_conjunct_to_its_own_line() -> None:
    compiled = CompiledPolicy(Policy.from_text(LINES, "lines.policy").checked)
    with pytest.raises(TypeError) as caught:
        compiled.condition(1, {"n": "not a number"})
    assert _frames_in_policy(caught.value) == [7]


# ---------------------------------------------------------------- missing facts


def test_missing_fact_in_compiled_code_is_a_clean_e401() -> None:
    policy = Policy.from_text(
        "policy p\nfact n: whole number\nfact opt: optional whole number\ndecision d\n"
        'rule r when n > 1 and opt > 2 then d because "r"\notherwise d', "p.policy")
    with pytest.raises(EvaluationError) as caught:
        evaluation(policy, typed_facts(policy, {"n": 5}), "compiled")
    error = caught.value
    assert (error.code, error.fact, error.rules) == ("E401", "opt", ("r",))
    assert error.__cause__ is None and error.__suppress_context__
    shown = "".join(traceback.format_exception(error))
    assert "KeyError" not in shown and "During handling" not in shown


def test_a_fact_named_like_generated_code_is_just_a_fact(engine: Engine) -> None:
    text = ("policy p\nfact f: whole number\nfact _k0: optional whole number\n"
            "fact _add: whole number\ndecision d\ndecision e\n"
            'rule r when _k0 is present and f + _add > _k0 then d because "r"\notherwise e')
    policy = Policy.from_text(text, "p.policy")
    assert policy.evaluate({"f": 2, "_add": 3, "_k0": 4}, engine=engine).decision == "d"
    assert policy.evaluate({"f": 2, "_add": 1, "_k0": 4}, engine=engine).decision == "e"
    unguarded = Policy.from_text(text.replace("_k0 is present and ", ""), "p.policy")
    with pytest.raises(EvaluationError) as caught:
        evaluation(unguarded, {"f": 1, "_add": 1}, engine)
    assert (caught.value.code, caught.value.fact) == ("E401", "_k0")
    refused = unguarded.evaluate({"f": 1, "_add": 1}, engine=engine)
    assert [d.code for d in refused.refusal] == ["E401"]


# ---------------------------------------------------------------- `policy compile`


def test_policy_compile_prints_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "injection.policy").write_text(INJECTION, encoding="utf-8")
    result = CliRunner().invoke(cli, ["compile", "injection.policy"])
    assert result.exit_code == 0, result.output
    module = ast.parse(result.stdout)
    assert [n.name for n in module.body if isinstance(n, ast.FunctionDef)][:2] == ["_c0", "_o0"]
    assert result.stdout.startswith("# generated from injection.policy; constants: ")


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_policy_compile_of_shipped_policies_parses(path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["compile", str(path.relative_to(ROOT))])
    assert result.exit_code == 0, result.output
    ast.parse(result.stdout)


def test_generated_source_header_cannot_be_broken_by_a_file_name() -> None:
    policy = Policy.from_text("policy p\nfact n: amount\ndecision d\n"
                              'rule r when n > 1.5 then d because "r"',
                              "x\nimport os; os.system('echo pwned')\n#.policy")
    module = ast.parse(generated_source(policy.checked))
    assert not any(isinstance(node, ast.Import) for node in ast.walk(module))
