"""Policy: the orchestrator and public API that wires parse, check, validate, decide and explain.

    >>> from policy_engine import Policy
    >>> policy = Policy.load("policies/examples/refund.policy")
    >>> decision = policy.evaluate({"request": "goods_not_received", ...})
    >>> decision.decision, decision.rule, decision.outputs

One evaluation is interpreted: it needs no generated code, and its answer comes with the
explanation. Code is generated and compiled only for the hot-loop function of `decider()`
(and `evaluate(engine="compiled")`, which checks one against the other), once per policy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from policy_engine.check.checked import CheckedPolicy
from policy_engine.check.types import Value
from policy_engine.core import cache
from policy_engine.core.data import JsonPath, Locator
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.files import display_path, read_text
from policy_engine.core.source import Source, Span
from policy_engine.evaluate.errors import EvaluationError
from policy_engine.evaluate.interpreter import Interpreter
from policy_engine.evaluate.resolution import resolve
from policy_engine.evaluate.runtime import Outputs
from policy_engine.explain.decision import Decision
from policy_engine.facts.constraints import check_constraints
from policy_engine.facts.validation import FactStage
from policy_engine.language.grammar import grammar_text

if TYPE_CHECKING:
    from policy_engine.analysis.residual import Residual
    from policy_engine.evaluate.compiler import CompiledPolicy

Engine = Literal["interpreted", "compiled"]

#: Policy files larger than this are refused before parsing.
MAX_POLICY_BYTES = 2 * 1024 * 1024


class _Refused(Exception):
    """Valid facts that break a `require` or `ensure`: the policy refuses to decide."""

    def __init__(self, problems: list[Diagnostic], facts: Mapping[str, Value]) -> None:
        super().__init__(problems[0].message)
        self.problems = problems
        self.facts = facts  # the typed facts, which explain the refusal


class Policy:
    """A checked policy, ready to decide; build it with `load` or `from_text`.

    Attributes:
        checked: the checked policy, for tools that read it (the analysis, the CLI).
        warnings: the checker's warnings.
        path: the file it was loaded from, or None.
    """

    def __init__(self, checked: CheckedPolicy, warnings: list[Diagnostic],
                 path: str | None) -> None:
        self.checked = checked
        self.warnings = warnings
        self.path = path
        self._facts = FactStage(checked.facts, title=checked.title)
        self._interpreter: Interpreter | None = None
        self._compiled: CompiledPolicy | None = None
        self._validator: Callable[..., dict[str, Value]] | None = None
        self._deciders: dict[bool, Callable[..., Decision]] = {}
        # Without defaults every validated fact was given: the trace needs no set of names.
        self._defaults = any(info.default is not None for info in checked.facts)

    # ------------------------------------------------------------ building
    @classmethod
    def from_text(cls, text: str, name: str = "<policy>", *,
                  folder: str | None = None) -> Policy:
        """Parses and checks policy text.

        Args:
            folder: the folder a `source document` path is relative to. With it, the policy's
                quotations are verified against the document, as `load` does; without it,
                nothing is read from disk and they are not verified.

        Raises:
            DiagnosticError: syntax, name or type errors, each with a position; with
                `folder`, a quotation not in the source document (E119) or a document that
                cannot be read (E120).
        """
        policy = cls._build(text, name, None)
        if folder is not None:
            policy._verify_quotes(folder)
        return policy

    @classmethod
    def load(cls, path: str, *, cache: bool = True) -> Policy:
        """Reads, parses and checks a policy file.

        A policy loaded before with the same text, name, grammar and engine comes from the
        cache of checked policies instead (see `core.cache`; `cache=False` or
        `POLICY_ENGINE_CACHE=0` turns it off), with the same warnings and decisions.

        Raises:
            DiagnosticError: the file cannot be read, or the policy is invalid.
        """
        return cls._load(path, use_cache=cache)

    @classmethod
    def _load(cls, path: str, *, use_cache: bool) -> Policy:
        text = read_text(path, MAX_POLICY_BYTES)
        name = display_path(path)
        policy: Policy | None = None
        key: str | None = None
        if use_cache and cache.enabled():
            key = cache.key(text, name, grammar_text())
            policy = cls._from_cache(cache.load(key))
        if policy is None:
            policy = cls._build(text, name, key)
        policy.path = path
        # Checked on every load, cached or not: the document can change without the policy.
        policy._verify_quotes(os.path.dirname(path))
        return policy

    def _verify_quotes(self, folder: str) -> None:
        """Checks the quotations against the declared source document, if there is one.

        Raises:
            DiagnosticError: E120 (the document cannot be read) or E119 (quotations not in it).
        """
        document = self.checked.document
        if document is None:
            return
        from policy_engine.check.quotes import verify

        problems = verify(document, self.checked.source, folder)
        if problems:
            raise DiagnosticError(problems)

    @classmethod
    def _build(cls, text: str, name: str, cache_key: str | None) -> Policy:
        from policy_engine.check.checker import check
        from policy_engine.language.parser import parse_policy

        source = Source(name, text)
        # Loading makes many objects and no garbage cycles worth finding; the collector's full
        # passes over them made loading a policy of 10,000 rules take half again as long.
        try:
            with cache.collector_paused():
                checked, warnings = check(source, parse_policy(source))
        except RecursionError:
            raise _too_deep(source) from None
        if cache_key is not None:
            cache.store(cache_key, (checked, warnings))
        return cls(checked, warnings, None)

    @classmethod
    def _from_cache(cls, entry: object) -> Policy | None:
        if not (isinstance(entry, tuple) and len(entry) == 2
                and isinstance(entry[0], CheckedPolicy) and isinstance(entry[1], list)
                and all(isinstance(w, Diagnostic) for w in entry[1])):
            return None
        return cls(entry[0], entry[1], None)

    # ------------------------------------------------------------ what it is
    @property
    def name(self) -> str:
        """The name after `policy` in the file."""
        return self.checked.name

    @property
    def title(self) -> str | None:
        return self.checked.title

    @property
    def version(self) -> str | None:
        return self.checked.version

    def schema(self) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of a fact set, derived from the fact declarations."""
        return self._facts.schema()

    def check(self, *, lint: bool = True, analysis_budget: int | None = None,
              analysis_timeout: float | None = None) -> list[Diagnostic]:
        """The checker's warnings and, with `lint`, the analysis's findings about the rules
        (dead, shadowed or conflicting rules, gaps; see `policy lint`).

        Args:
            analysis_budget: the work the analysis may do, in steps (None: the default of
                `analysis.budget.DEFAULT_STEPS`; 0: no limit). What goes over it is reported
                as W112 (analysis incomplete), so the check always ends.
            analysis_timeout: also stop the analysis after this many seconds (off by default:
                with it, the findings depend on the machine's speed).
        """
        found = list(self.warnings)
        if lint:
            from policy_engine.analysis.budget import Budget
            from policy_engine.analysis.lint import lint as analyse

            budget = Budget.from_options(analysis_budget, analysis_timeout)
            found += analyse(self.checked, budget).warnings
        return found

    # ------------------------------------------------------------ deciding
    def evaluate(self, facts: object, *, engine: Engine = "interpreted", file: str = "<facts>",
                 locate: Locator | None = None, prefix: JsonPath = ("facts",)) -> Decision:
        """Validates raw facts (as from JSON or YAML), decides, and explains when asked.

        A refusal to decide (a needed fact is missing, no rule applies, a `require` or
        `ensure` fails...) is a `Decision` whose `refusal` says why.

        Args:
            engine: `interpreted` (no generated code: the right choice for one decision) or
                `compiled` (the generated code of `decider()`); both give the same answers.
            file, locate, prefix: where the facts come from, for the positions of problems:
                the file name, a function from JSON path to (line, column), and the JSON path
                of the facts inside the file.

        Raises:
            DiagnosticError: the facts are invalid; each problem names the JSON path of the
                bad value.
        """
        given = (frozenset(facts) if isinstance(facts, Mapping) else frozenset()) \
            if self._defaults else None
        try:
            typed = self._validate(facts, engine, file, locate, prefix)
        except _Refused as refused:
            return Decision.refusing(self.checked, refused.problems, refused.facts, given)
        try:
            if engine == "compiled":
                evaluation = self._compiled_policy().evaluate(typed)
            else:
                evaluation = resolve(self.checked, self._interpreted(), typed)
        except EvaluationError as error:
            return Decision.refusing(self.checked, [_refusal(error, file)], typed, given)
        return Decision.of(self.checked, evaluation, typed, given)

    def residual(self, known_facts: object, *, exclude: Iterable[str] = (),
                 file: str = "<facts>", locate: Locator | None = None,
                 prefix: JsonPath = ("facts",), analysis_budget: int | None = None,
                 irrelevant: bool = True) -> Residual:
        """Partial evaluation: what the policy answers when only some facts are known, and
        what is still needed to know (docs/partial.md).

        Facts left out are unknown: every value the declarations and constraints allow is
        considered (a fact given as null is refused, E314: leave it out). The `Residual` is
        either decided, with the `Decision` and the facts that
        did not matter, or undecided, with the outcomes still possible, the facts that still
        matter (which of their values lead where), the suggested next question and the facts
        given that do not matter. Every example in it was evaluated by the interpreter.

        Args:
            exclude: facts never to suggest as the next question (the caller cannot find
                them out).
            file, locate, prefix: where the facts come from, as for `evaluate`.
            analysis_budget: the work the analysis may do, in steps (None: the default of
                `analysis.budget.DEFAULT_STEPS`; 0: no limit).
            irrelevant: also work out which facts given do not matter (one more analysis of
                the policy for each fact given).

        Raises:
            DiagnosticError: a fact given is invalid (as for `evaluate`: wrong type, unknown
                name, null where the fact cannot be left out), or E701: the analysis needs
                more than its budget.
        """
        from policy_engine.analysis.budget import Budget
        from policy_engine.analysis.partial import residual
        from policy_engine.facts.known import validate_known

        known = validate_known(self._facts, known_facts, file=file, locate=locate,
                               prefix=prefix)
        return residual(self.checked, known, self._explained,
                        budget=Budget.from_options(analysis_budget),
                        exclude=frozenset(exclude), irrelevant=irrelevant)

    def _explained(self, facts: Mapping[str, Any]) -> Decision:
        """`evaluate` for partial evaluation's completions; invalid ones are refusals."""
        try:
            return self.evaluate(dict(facts))
        except DiagnosticError as error:
            return Decision.refusing(self.checked, error.diagnostics)

    def decider(self, *, validated: bool = False) -> Callable[..., Decision]:
        """The decision as one generated function, for hot loops: facts in, a `Decision` out.

        Its decisions carry no facts and no trace (call `evaluate` for the explanation);
        those of rules whose outputs are constants are made once and shared. A refusal is a
        `Decision` with its `refusal`, as from `evaluate`.

        Args:
            validated: False (the default): the function takes raw facts, as `evaluate` does,
                and the same optional `file`, `locate` and `prefix`; it validates them in the
                same generated code and raises `DiagnosticError` for invalid ones. True: it
                takes facts already validated (the `facts` of an earlier decision) and skips
                validation.
        """
        found = self._deciders.get(validated)
        if found is None:
            found = (self._compiled_policy().decider if validated
                     else self.doubting_decider(self._decide_raw))
            self._deciders[validated] = found
        return found

    def doubting_decider(self, doubt: Callable[..., Any], *,
                         row: tuple[type, Mapping[str, str]] | None = None) -> Callable[..., Any]:
        """The validating `decider`, except that raw facts its generated checks are not sure
        of are given to `doubt` (with the same arguments) instead of the full fact stage
        (`decider()` is this with the full fact stage as `doubt`; this one is not kept).

        For a caller with an exact path of its own for such facts (`policy batch` decodes rows
        with msgspec and, in doubt, reads them again as the `json` path does); facts the checks
        accept are decided, or refused, exactly as by `decider`.

        With `row` (a class, and the attribute of each fact), it takes typed rows whose
        decoder checked the facts' types instead of dicts (`compile_decider` says what it
        trusts them for); it is `doubt` itself when the policy's facts cannot all be typed.
        """
        from policy_engine.facts.compiled_validator import compile_decider

        compiled = self._compiled_policy()
        found: Callable[..., Any] = _guard_depth(self.checked.source, lambda: compile_decider(
            self.checked, doubt, compiled.decider, compiled.positional_decision,
            compiled.namespace, refuse=lambda problems: Decision.refusing(self.checked, problems),
            row=row))
        return found

    # ------------------------------------------------------------ the stages
    def _validate(self, facts: object, engine: Engine, file: str, locate: Locator | None,
                  prefix: JsonPath) -> dict[str, Value]:
        """Typed facts, checked against the constraints.

        Raises:
            DiagnosticError: the facts are invalid.
            _Refused: they break a `require` or `ensure`.
        """
        if engine == "compiled":
            if self._validator is None:
                from policy_engine.facts.compiled_validator import compile_validator

                self._validator = _guard_depth(self.checked.source, lambda: compile_validator(
                    self.checked, self._validate_full))
            return self._validator(facts, file, locate, prefix)
        typed = self._facts.quick(facts)
        if typed is None:
            return self._validate_full(facts, file, locate, prefix)
        self._check_constraints(typed, file, locate, prefix)
        return typed

    def _validate_full(self, facts: object, file: str, locate: Locator | None,
                       prefix: JsonPath) -> dict[str, Value]:
        """The full fact stage: every problem worded, then the constraints."""
        typed = self._facts.full.validate(facts, file=file, locate=locate, prefix=prefix)
        self._check_constraints(typed, file, locate, prefix)
        return typed

    def _check_constraints(self, typed: Mapping[str, Value], file: str, locate: Locator | None,
                           prefix: JsonPath) -> None:
        problems = check_constraints(self.checked, typed, file=file, locate=locate,
                                     prefix=prefix)
        if problems:
            raise _Refused(problems, typed)

    def _decide_raw(self, facts: object, file: str = "<facts>", locate: Locator | None = None,
                    prefix: JsonPath = ("facts",)) -> Decision:
        """The hot-loop function's path for facts its checks are not sure of."""
        try:
            typed = self._validate_full(facts, file, locate, prefix)
        except _Refused as refused:
            return Decision.refusing(self.checked, refused.problems)
        result: Decision = self._compiled_policy().decider(typed)
        return result

    def _interpreted(self) -> Interpreter:
        if self._interpreter is None:
            self._interpreter = Interpreter(self.checked)
        return self._interpreter

    def _compiled_policy(self) -> CompiledPolicy:
        if self._compiled is None:
            # Imported here: one evaluation is interpreted and never needs the compiler.
            from policy_engine.evaluate.compiler import CompiledPolicy

            checked = self.checked

            def make(decision: str, rule: str, outputs: Outputs, index: int) -> Decision:
                return Decision(checked, decision, rule, outputs, index)

            def refuse(error: EvaluationError) -> Decision:
                return Decision.refusing(checked, [_refusal(error, "<facts>")])

            def shared(decision: str, rule: str, outputs: Outputs, index: int) -> Decision:
                return Decision.shared(checked, decision, rule, outputs, index)

            self._compiled = _guard_depth(checked.source, lambda: CompiledPolicy(
                checked, make, refuse, shared))
        return self._compiled


def _refusal(error: EvaluationError, file: str) -> Diagnostic:
    """A refusal to decide as a diagnostic naming the input file."""
    return Diagnostic(error.code, error.message, file=file, help=error.help, label=error.label)


def _too_deep(source: Source) -> DiagnosticError:
    return DiagnosticError([Diagnostic(
        "E006", "the policy nests parentheses or arithmetic too deeply to process", source,
        Span(0, min(len(source.text), 1)),
        help="write the condition with fewer nested levels; real conditions need only a few")])


def _guard_depth(source: Source, build: Callable[[], Any]) -> Any:
    """Builds generated code; a policy nested too deeply for Python's compiler is E006."""
    try:
        return build()
    except RecursionError:
        raise _too_deep(source) from None
