"""The shape of the package: its name, its layers, its module sizes, and what one evaluation runs.

docs/architecture.md describes the layout these tests hold: the import package
`policy_engine` (source in engine/, grammar in grammar/), stage packages that import downward
only and never in a circle (the import-linter contracts in pyproject.toml), modules of at most
about 800 lines, and one-off evaluation that generates and compiles no code.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT

PACKAGE = ROOT / "engine" / "policy_engine"
MODULES = sorted(PACKAGE.rglob("*.py"))
#: The longest a module may grow before it is split by idea (STYLE.md: "about 800 lines").
MAX_LINES = 800


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env, check=False)


def test_the_import_package_is_policy_engine_and_engine_is_not(tmp_path: Path) -> None:
    imported = _run("import policy_engine, sys; print(policy_engine.__version__)", tmp_path)
    assert imported.returncode == 0, imported.stderr
    old = _run("import engine", tmp_path)
    assert old.returncode != 0 and "ModuleNotFoundError" in old.stderr
    # From the repository root `engine/` is only a folder: it holds no Policy.
    inside = _run("from engine import Policy", ROOT)
    assert inside.returncode != 0 and "ImportError" in inside.stderr


def test_python_minus_m_runs_the_cli(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "policy_engine", "--version"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("policy, version ")


def test_pyproject_lists_every_package() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    # setuptools is given the list by hand (grammar/ is mapped into the package): a package
    # missing from it would be missing from the wheel.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {"policy_engine." + ".".join(init.parent.relative_to(PACKAGE).parts)
             for init in PACKAGE.rglob("__init__.py")} - {"policy_engine."}
    found |= {"policy_engine", "policy_engine.grammar"}
    assert listed == found


def test_the_layers_and_the_absence_of_cycles_hold() -> None:
    pytest.importorskip("importlinter")
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True,
                        no_logo=True) == 0


@pytest.mark.parametrize("module", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_every_module_is_small_and_says_what_it_is(module: Path) -> None:
    text = module.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES, f"{module.name}: split it by idea"
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring, f"{module.name} has no docstring saying what it is"


#: Records the file name of every code object executed (the `exec` audit event: generated code
#: is compiled from ast nodes, then run with exec), then runs the CLI.
_AUDITED_CLI = """
import sys
compiled = []
made = []  # the text of functions `dataclasses` writes and compiles (in `__create_fn__`)
def hook(event, args):
    if event == "exec" and args:
        compiled.append(str(getattr(args[0], "co_filename", "")))
    if event == "compile" and args and "def __create_fn__(" in str(args[0]):
        made.append(args[0])
sys.addaudithook(hook)
from policy_engine.cli import cli
try:
    cli.main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
print("GENERATED:", [name for name in compiled if name.startswith(("<policy:", "<facts:"))],
      file=sys.stderr)
print("COMPILER LOADED:", "policy_engine.evaluate.compiler" in sys.modules, file=sys.stderr)
print("DATACLASS FUNCTIONS COMPILED:", len(made), file=sys.stderr)
print("IMPORTED:", " ".join(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""

#: Modules one evaluation must not import (start-up time, issue 20): the libraries of other
#: features, the code generators, and what only a mistake, an interruption or storing a cache
#: entry needs.
NOT_FOR_ONE_EVALUATION = (
    "jsonschema", "lark", "holidays", "policy_engine.evaluate.compiler",
    "policy_engine.facts.compiled_validator", "policy_engine.analysis.lint", "difflib",
    "secrets", "zipfile", "signal", "traceback",
    # a valid scenario needs no help with YAML indentation; months need no `calendar`
    "policy_engine.scenarios.yaml_indentation", "calendar",
    # SHA-256 comes without OpenSSL, an entry is read by the C unpickler (`pickle` is for
    # storing one), and text output needs no `json`
    "hashlib", "_hashlib", "pickle", "json",
)
#: What a policy from the cache of checked policies needs no more: neither the parser nor
#: the checker, nor the syntax tree's classes (verifying quotations must not build them).
NOT_FROM_THE_CACHE = ("policy_engine.language.parser", "policy_engine.check.checker",
                      "policy_engine.language.nodes", "policy_engine.check.expression_checker")


def _audited(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    env = {**os.environ, "POLICY_ENGINE_CACHE": "0", **(env or {})}
    done = subprocess.run([sys.executable, "-c", _AUDITED_CLI, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    return done.returncode, done.stderr.splitlines()


def test_one_evaluation_compiles_no_generated_code() -> None:
    # The README's first command: the decision and its explanation, interpreted.
    code, lines = _audited("eval", "policies/aliexpress/scenarios/never_arrived_after_50_days.yaml")
    assert code == 0, lines
    assert "GENERATED: []" in lines
    assert "COMPILER LOADED: False" in lines
    imported = _imported(lines)
    assert "policy_engine.explain.trace" in imported  # the check sees what eval imports
    assert not imported & set(NOT_FOR_ONE_EVALUATION)


def test_one_evaluation_from_the_cache_neither_parses_nor_checks(tmp_path: Path) -> None:
    scenario = "policies/aliexpress/scenarios/never_arrived_after_50_days.yaml"
    cached = {"POLICY_ENGINE_CACHE": "1", "XDG_CACHE_HOME": str(tmp_path)}
    code, lines = _audited("eval", scenario, env=cached)  # fills the cache
    assert code == 0, lines
    assert set(NOT_FROM_THE_CACHE) <= _imported(lines)  # the check can fail
    assert "DATACLASS FUNCTIONS COMPILED: 0" not in lines  # the check can fail: nodes compile
    code, lines = _audited("eval", scenario, env=cached)
    assert code == 0, lines
    assert not _imported(lines) & set(NOT_FOR_ONE_EVALUATION + NOT_FROM_THE_CACHE)
    # Every class it defines is a record (core/records.py): no method of one is compiled.
    assert "DATACLASS FUNCTIONS COMPILED: 0" in lines


def test_importing_the_package_imports_none_of_it_until_a_name_is_used(tmp_path: Path) -> None:
    # `policy` pauses the collector while it imports the engine (cli/__init__.py): that works
    # only if `import policy_engine`, which comes first, imports nothing (issue 20).
    shown = _run("import policy_engine, sys\n"
                 "print(sorted(m for m in sys.modules if m.startswith('policy_engine')))\n"
                 "from policy_engine import Decision, Diagnostic, DiagnosticError, Policy\n"
                 "from policy_engine import policy, explain\n"
                 "print(Policy is policy.Policy, 'Policy' in dir(policy_engine))", tmp_path)
    assert shown.stdout.splitlines() == ["['policy_engine']", "True True"], shown.stderr
    missing = _run("import policy_engine; policy_engine.Nothing", tmp_path)
    assert "has no attribute 'Nothing'" in missing.stderr


def _imported(lines: list[str]) -> set[str]:
    found = next(line for line in lines if line.startswith("IMPORTED:"))
    return set(found.removeprefix("IMPORTED:").split())


def test_the_command_freezes_what_it_imported_and_the_library_leaves_the_collector_alone(
        tmp_path: Path) -> None:
    # `policy` (launch.py) imports the CLI with the collector paused, then freezes it all.
    shown = _run("import gc, sys\nfrom policy_engine import launch\n"
                 "sys.argv = ['policy', '--version']\n"
                 "try:\n    launch.main()\nexcept SystemExit:\n    pass\n"
                 "print(gc.isenabled(), gc.get_freeze_count() > 10000)", tmp_path)
    assert shown.stdout.splitlines()[-1] == "True True", shown.stderr
    shown = _run("import gc; import policy_engine.cli\n"
                 "print(gc.isenabled(), gc.get_freeze_count())", tmp_path)
    assert shown.stdout.strip() == "True 0", shown.stderr


def test_one_evaluation_from_the_cache_needs_no_pathlib(tmp_path: Path) -> None:
    # `pathlib` (with `urllib.parse`, `ipaddress` and `fnmatch`) is a sixth of the bare imports'
    # cost; an editable install's import hook loads it in every Python, so `sys.modules` cannot
    # tell: the evaluation runs with `pathlib` made unimportable instead.
    scenario = "policies/aliexpress/scenarios/never_arrived_after_50_days.yaml"
    cached = {**os.environ, "POLICY_ENGINE_CACHE": "1", "XDG_CACHE_HOME": str(tmp_path)}
    script = ("import sys\n{block}from policy_engine.cli import cli\n"
              "cli.main(sys.argv[1:])\n")
    answers = []
    for block in ("", "sys.modules['pathlib'] = None\n"):  # fill the cache, then read it
        done = subprocess.run([sys.executable, "-c", script.format(block=block), "eval",
                               scenario], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, env=cached, check=False)
        assert done.returncode == 0, done.stderr
        answers.append(done.stdout)
    assert "decision: no_refund_window_expired" in answers[0] and answers[1] == answers[0]
