"""Policy: the orchestrator and public API that wires parse, check, compile, evaluate and explain.

    >>> from engine import Policy
    >>> policy = Policy.load("policies/examples/refund.policy")
    >>> decision = policy.evaluate({"request": "goods_not_received", ...})
    >>> decision.decision, decision.rule, decision.outputs
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from engine.checked import CheckedPolicy
from engine.checker import check
from engine.compiler import CompiledPolicy, generated_source
from engine.constraints import check_constraints
from engine.diagnostics import Diagnostic, DiagnosticError
from engine.explain import Trace, explain
from engine.facts import FactValidator
from engine.interpreter import Interpreter
from engine.lowering import parse_policy
from engine.runtime import Evaluation, EvaluationError, RuleEvaluator, resolve
from engine.source import Source, Span
from engine.valuetypes import Value

Engine = Literal["compiled", "interpreted"]
Locator = Callable[[tuple[str | int, ...]], tuple[int, int] | None]

#: Policy files larger than this are refused before parsing.
MAX_POLICY_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Decision:
    """What a policy decided for one fact set, and why.

    Args:
        decision: the decision name.
        rule: the id of the deciding rule, or 'otherwise' when the default decided.
        outputs: the outputs the deciding rule set, in declaration order.
        trace: the explanation, for the renderers.
        facts: the validated facts, defaults filled in.
    """

    decision: str
    rule: str
    outputs: dict[str, Value]
    trace: Trace
    facts: Mapping[str, Value]


class Policy:
    """A checked policy, ready to evaluate; build it with `load` or `from_text`."""

    def __init__(self, checked: CheckedPolicy, warnings: list[Diagnostic],
                 path: str | None) -> None:
        self.checked = checked
        self.warnings = warnings
        self.path = path
        self._validator: FactValidator | None = None
        self._compiled: CompiledPolicy | None = None
        self._interpreter: Interpreter | None = None

    # ------------------------------------------------------------ building
    @classmethod
    def from_text(cls, text: str, name: str = "<policy>") -> Policy:
        """Parses and checks policy text.

        Raises:
            DiagnosticError: syntax, name or type errors, each with a position.
        """
        source = Source(name, text)
        try:
            checked, warnings = check(source, parse_policy(source))
            policy = cls(checked, warnings, None)
            policy.evaluator("compiled")  # compile now: a policy that loads also runs
        except RecursionError:
            raise DiagnosticError([Diagnostic(
                "E006", "the policy nests parentheses or arithmetic too deeply to process", source,
                Span(0, min(len(text), 1)),
                help="write the condition with fewer nested levels; real conditions need "
                     "only a few")]) from None
        return policy

    @classmethod
    def load(cls, path: str) -> Policy:
        """Reads, parses and checks a policy file.

        Raises:
            DiagnosticError: the file cannot be read, or the policy is invalid.
        """
        text = read_text(path, MAX_POLICY_BYTES)
        policy = cls.from_text(text, display_path(path))
        policy.path = path
        return policy

    # ------------------------------------------------------------ facts
    @property
    def validator(self) -> FactValidator:
        if self._validator is None:
            self._validator = FactValidator(self.checked.facts, title=self.checked.title)
        return self._validator

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of a fact set, derived from the fact declarations."""
        return self.validator.schema

    def validate(self, facts: object, *, file: str = "<facts>", locate: Locator | None = None,
                 prefix: tuple[str | int, ...] = ("facts",)) -> dict[str, Value]:
        """Validates raw facts (JSON/YAML data) and returns typed values with defaults filled in.

        Raises:
            DiagnosticError: every problem, each naming the JSON path of the bad value.
        """
        typed = self.validator.validate(facts, file=file, locate=locate, prefix=prefix)
        problems = check_constraints(self.checked, typed, file=file, locate=locate, prefix=prefix)
        if problems:
            raise DiagnosticError(problems)
        return typed

    # ------------------------------------------------------------ evaluation
    def evaluator(self, engine: Engine = "compiled") -> RuleEvaluator:
        if engine == "interpreted":
            if self._interpreter is None:
                self._interpreter = Interpreter(self.checked)
            return self._interpreter
        if self._compiled is None:
            self._compiled = CompiledPolicy(self.checked)
        return self._compiled

    def decide(self, facts: Mapping[str, Value], engine: Engine = "compiled") -> Evaluation:
        """Decides on facts that are already validated; no trace.

        Raises:
            EvaluationError: a needed fact is missing, rules conflict, or nothing decides.
        """
        return resolve(self.checked, self.evaluator(engine), facts)

    def evaluate(self, facts: object, *, engine: Engine = "compiled", file: str = "<facts>",
                 locate: Locator | None = None,
                 prefix: tuple[str | int, ...] = ("facts",)) -> Decision:
        """Validates raw facts, decides, and explains.

        Raises:
            DiagnosticError: the facts are invalid.
            EvaluationError: the policy refuses to decide on these facts.
        """
        typed = self.validate(facts, file=file, locate=locate, prefix=prefix)
        given = frozenset(facts) if isinstance(facts, Mapping) else frozenset()
        return self.evaluate_valid(typed, given=given, engine=engine)

    def evaluate_valid(self, facts: Mapping[str, Value], *, given: frozenset[str] | None = None,
                       engine: Engine = "compiled") -> Decision:
        """Decides and explains on validated facts."""
        evaluation = self.decide(facts, engine)
        trace = explain(self.checked, facts, given if given is not None else frozenset(facts),
                        evaluation)
        return Decision(evaluation.decision, evaluation.rule, dict(evaluation.outputs), trace,
                        facts)

    def generated_code(self) -> str:
        """The Python code the compiler generates for this policy, as text."""
        return generated_source(self.checked)


def evaluation_diagnostic(error: EvaluationError, file: str) -> Diagnostic:
    """Turns a refusal to decide into a diagnostic naming the input file."""
    return Diagnostic(error.code, error.message, file=file, help=error.help, label=error.label)


def read_text(path: str, limit: int) -> str:
    """Reads a UTF-8 text file, or raises a DiagnosticError that says why it cannot."""
    shown = display_path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise DiagnosticError([Diagnostic("E301", "no such file", file=shown)]) from None
    except IsADirectoryError:
        raise DiagnosticError([Diagnostic("E301", "is a directory, not a file", file=shown)]) \
            from None
    except OSError as error:
        raise DiagnosticError([Diagnostic("E301", f"cannot read: {error.strerror}",
                                          file=shown)]) from None
    if len(data) > limit:
        raise DiagnosticError([Diagnostic("E307", f"larger than the limit of {limit} bytes",
                                          file=shown)])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DiagnosticError([Diagnostic(
            "E301", f"not UTF-8 text (byte {error.start} cannot be decoded)", file=shown,
            help="save the file as UTF-8")]) from None
    if "\x00" in text:
        raise DiagnosticError([Diagnostic("E301", "binary data, not a text file", file=shown)])
    return text


def display_path(path: str) -> str:
    """A path as people should see it: relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative.replace(os.sep, "/")
