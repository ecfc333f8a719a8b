"""Policy: the orchestrator and public API that wires parse, check, compile, evaluate and explain.

    >>> from policy_engine import Policy
    >>> policy = Policy.load("policies/examples/refund.policy")
    >>> decision = policy.evaluate({"request": "goods_not_received", ...})
    >>> decision.decision, decision.rule, decision.outputs
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from policy_engine.check.checked import CheckedPolicy
from policy_engine.check.types import Value
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.source import Source, Span
from policy_engine.evaluate.compiler import CompiledPolicy, generated_source
from policy_engine.evaluate.errors import EvaluationError
from policy_engine.evaluate.interpreter import Interpreter
from policy_engine.evaluate.resolution import RuleEvaluator, resolve
from policy_engine.evaluate.runtime import Evaluation, Verdict
from policy_engine.explain.trace import Trace, explain
from policy_engine.facts.compiled_validator import Validator, compile_validator
from policy_engine.facts.constraints import check_constraints
from policy_engine.language.grammar import grammar_text

if TYPE_CHECKING:
    from policy_engine.facts.validation import FactValidator

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
        self._fast: Validator | None = None
        self._validating: Callable[..., Verdict | Evaluation] | None = None
        self._compiled: CompiledPolicy | None = None
        self._interpreter: Interpreter | None = None

    # ------------------------------------------------------------ building
    @classmethod
    def from_text(cls, text: str, name: str = "<policy>") -> Policy:
        """Parses and checks policy text.

        Raises:
            DiagnosticError: syntax, name or type errors, each with a position.
        """
        return cls._build(text, name, None)

    @classmethod
    def _build(cls, text: str, name: str, cache_key: str | None) -> Policy:
        from policy_engine.check.checker import check
        from policy_engine.language.parser import parse_policy

        source = Source(name, text)
        # Loading makes many objects and no garbage cycles worth finding; the collector's full
        # passes over them made loading a policy of 10,000 rules take half again as long.
        collecting = gc.isenabled()
        gc.disable()
        try:
            checked, warnings = check(source, parse_policy(source))
            if cache_key is not None:
                from policy_engine.core import cache

                cache.store(cache_key, (checked, warnings))
            policy = cls(checked, warnings, None)
            policy.evaluator("compiled")  # compile now: a policy that loads also runs
        except RecursionError:
            raise DiagnosticError([Diagnostic(
                "E006", "the policy nests parentheses or arithmetic too deeply to process", source,
                Span(0, min(len(text), 1)),
                help="write the condition with fewer nested levels; real conditions need "
                     "only a few")]) from None
        finally:
            if collecting:
                gc.enable()
        return policy

    @classmethod
    def load(cls, path: str, *, cache: bool = True) -> Policy:
        """Reads, parses and checks a policy file.

        A policy loaded before with the same text, name, grammar and engine comes from the
        cache of checked policies instead (see `policy_engine.core.cache`; `cache=False` or
        `POLICY_ENGINE_CACHE=0` turns it off), with the same warnings and decisions.

        Raises:
            DiagnosticError: the file cannot be read, or the policy is invalid.
        """
        text = read_text(path, MAX_POLICY_BYTES)
        name = display_path(path)
        policy: Policy | None = None
        cache_key: str | None = None
        if cache:
            from policy_engine.core import cache as checked_cache

            if checked_cache.enabled():
                cache_key = checked_cache.key(text, name, grammar_text())
                policy = cls._from_cache(checked_cache.load(cache_key))
        if policy is None:
            policy = cls._build(text, name, cache_key)
        policy.path = path
        return policy

    @classmethod
    def _from_cache(cls, entry: object) -> Policy | None:
        if not (isinstance(entry, tuple) and len(entry) == 2
                and isinstance(entry[0], CheckedPolicy) and isinstance(entry[1], list)
                and all(isinstance(w, Diagnostic) for w in entry[1])):
            return None
        policy = cls(entry[0], entry[1], None)
        policy.evaluator("compiled")
        return policy

    # ------------------------------------------------------------ facts
    @property
    def validator(self) -> FactValidator:
        """The full fact stage of this policy (JSON Schema, conversion, wording of problems)."""
        if self._validator is None:
            from policy_engine.facts.validation import FactValidator

            self._validator = FactValidator(self.checked.facts, title=self.checked.title)
        return self._validator

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of a fact set, derived from the fact declarations."""
        return self.validator.schema

    def validate(self, facts: object, *, file: str = "<facts>", locate: Locator | None = None,
                 prefix: tuple[str | int, ...] = ("facts",)) -> dict[str, Value]:
        """Validates raw facts (JSON/YAML data) and returns typed values with defaults filled in.

        The policy's compiled validator (`compiled_validator`) answers first; only when it is not
        sure the facts are valid does the full fact stage run, which finds and words every
        problem. Both give the same typed values.

        Raises:
            DiagnosticError: every problem, each naming the JSON path of the bad value.
        """
        return (self._fast or self._compile_validator())(facts, file, locate, prefix)

    def validator_function(self) -> Callable[..., dict[str, Value]]:
        """`validate` as one bare function of the raw facts, for hot loops.

        Raises (when called):
            DiagnosticError: every problem, each naming the JSON path of the bad value.
        """
        return self._fast or self._compile_validator()

    def _compile_validator(self) -> Validator:
        self._fast = compile_validator(self.checked, self._validate_full)
        return self._fast

    def _validate_full(self, facts: object, file: str, locate: Locator | None,
                       prefix: tuple[str | int, ...]) -> dict[str, Value]:
        return self.validate_slow(facts, file=file, locate=locate, prefix=prefix)

    def validate_slow(self, facts: object, *, file: str = "<facts>",
                      locate: Locator | None = None,
                      prefix: tuple[str | int, ...] = ("facts",)) -> dict[str, Value]:
        """`validate` without the compiled validator: JSON Schema, conversion, constraints."""
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
        return self._compiled_policy()

    def _compiled_policy(self) -> CompiledPolicy:
        if self._compiled is None:
            self._compiled = CompiledPolicy(self.checked)
        return self._compiled

    def decider(self) -> Callable[[Mapping[str, Value]], Verdict | Evaluation]:
        """The bare compiled decision function, for hot loops: validated facts in, a result
        with `decision`, `rule`, `outputs` and `index` out (no outcomes, no trace).

        For `resolve first match` it is one generated function; results of rules with constant
        outputs are shared and must not be changed. It raises what `decide` raises.
        """
        return self._compiled_policy().decider

    def validating_decider(self) -> Callable[..., Verdict | Evaluation]:
        """`decider` on raw facts: one function that validates them and decides, as
        `decider()(validate(facts))` does but faster, for hot loops on untrusted facts.

        Where it can, the decision runs inlined after the compiled validator's checks, on the
        checked values, without a dict in between; anything the checks are not sure of takes
        the full fact stage. It takes the same optional arguments as `validate`.

        Raises (when called):
            DiagnosticError: the facts are invalid, exactly as `validate` raises.
        """
        if self._validating is None:
            from policy_engine.facts.compiled_validator import compile_decider

            compiled = self._compiled_policy()
            self._validating = compile_decider(self.checked, self._validate_full,
                                               compiled.decider, compiled.positional_decision,
                                               compiled.namespace)
        return self._validating

    def decide(self, facts: Mapping[str, Value], engine: Engine = "compiled") -> Evaluation:
        """Decides on facts that are already validated; no trace.

        The rules' outcomes are worked out only when `outcomes` is first read.

        Raises:
            EvaluationError: a needed fact is missing, rules conflict, or nothing decides.
        """
        compiled = self._compiled
        if compiled is None or engine == "interpreted":
            if engine == "interpreted":
                return resolve(self.checked, self.evaluator(engine), facts)
            compiled = self._compiled_policy()
        verdict = compiled.decider(facts)
        if isinstance(verdict, Evaluation):
            return verdict
        return Evaluation.later(verdict.decision, verdict.rule, verdict.outputs, verdict.index,
                                compiled.settle, facts)

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
        """Decides and explains on validated facts.

        The trace is worked out from what the decision recorded as it is read (see `explain`).
        """
        if engine == "interpreted":
            evaluation = self.decide(facts, engine)
        else:
            evaluation = (self._compiled or self._compiled_policy()).evaluate(facts)
        trace = explain(self.checked, facts, given, evaluation)  # None: every fact was given
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
