"""Compiler: turns a checked policy into Python functions built from `ast` nodes.

The code is built with `codegen` (user text only ever becomes constants) and, for first match,
`first_match`'s one decision function. It is compiled once per policy with the file name
`<policy:FILE>`, runs with no builtins, and each statement carries the policy line it came
from, so a traceback inside generated code points at the policy.
"""

from __future__ import annotations

import ast
import datetime
import threading
from collections.abc import Callable
from typing import Any

from policy_engine.check.checked import CheckedPolicy, CheckedRule, TableInfo
from policy_engine.check.types import Value
from policy_engine.core.source import Source
from policy_engine.evaluate import arithmetic, first_match, resolution, runtime
from policy_engine.evaluate.codegen import ExpressionWriter, at, function
from policy_engine.evaluate.errors import (
    UNKNOWN,
    CalendarProblem,
    DivisionByZero,
    EvaluationError,
    MissingFact,
    NoRow,
    OutOfRange,
)
from policy_engine.evaluate.runtime import (
    Env,
    Evaluation,
    Facts,
    Outputs,
    Record,
    RuleOutcome,
    Verdict,
)


def _condition_function(gen: ExpressionWriter, index: int, rule: CheckedRule,
                        source: Source) -> ast.FunctionDef:
    body: list[ast.stmt] = []
    for position, conjunct in enumerate(rule.conjuncts):
        line = source.line_col(conjunct.span.start)[0]
        test = ast.UnaryOp(ast.Not(), gen.visit(conjunct.expr))
        body.append(at(ast.If(test, [ast.Return(ast.Constant(position))], []), line))
    body.append(at(ast.Return(ast.Constant(-1)), rule.line))
    return function(f"_c{index}", body, rule.line)


def _outputs_function(gen: ExpressionWriter, index: int, rule: CheckedRule) -> ast.FunctionDef:
    pairs: list[ast.expr] = [ast.Tuple([ast.Constant(name), gen.visit(expr)], ast.Load())
             for name, expr in rule.outputs]
    body: list[ast.stmt] = [at(ast.Return(ast.Tuple(pairs, ast.Load())), rule.line)]
    return function(f"_o{index}", body, rule.line)


#: The parts of the generated module: the per-rule functions, and for first match the fast
#: path's decision function and its traced twin. `CompiledPolicy` compiles each when first
#: needed (the decision at once); `policy compile` shows them all.
PARTS = ("rules", "decide", "trace")


def build_part(gen: ExpressionWriter, part: str) -> list[ast.stmt]:
    """The functions of one part of the module (see `PARTS`)."""
    policy = gen.policy
    body: list[ast.stmt] = []
    if part == "rules":
        for rule in policy.units():
            body.append(_condition_function(gen, rule.index, rule, policy.source))
            body.append(_outputs_function(gen, rule.index, rule))
        for position, define in enumerate(policy.defines):
            line = policy.source.line_col(define.span.start)[0]
            value: ast.stmt = at(ast.Return(gen.visit(define.expr)), line)
            body.append(function(f"_d{position}", [value], line))
    elif part == "decide" and policy.strategy == "first match":
        # Derived values as functions of the facts alone, for the fast path's locals.
        gen.pure = True
        for position, define in enumerate(policy.defines):
            line = policy.source.line_col(define.span.start)[0]
            value = at(ast.Return(gen.visit(define.expr)), line)
            body.append(function(f"_p{position}", [value], line))
        gen.pure = False
        body.extend(first_match.FastWriter(gen, policy).decide())
    elif part == "trace" and policy.strategy == "first match":
        body.extend(first_match.FastWriter(gen, policy).trace())
    elif part == "near" and policy.strategy == "first match":
        body.extend(first_match.FastWriter(gen, policy).near())
    return body


def build_module(policy: CheckedPolicy) -> tuple[ast.Module, dict[str, object]]:
    """Returns the generated module and its constant pool (for inspection and tests)."""
    pool: dict[str, object] = {}
    gen = ExpressionWriter(pool, policy)
    body = [statement for part in PARTS for statement in build_part(gen, part)]
    module = ast.Module(body=body, type_ignores=[])  # every node has its line (`_at`)
    return module, pool


def generated_source(policy: CheckedPolicy) -> str:
    """The generated code as Python text, for reading and debugging (`policy compile`)."""
    module, pool = build_module(policy)
    shown_name = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in policy.source.name)
    header = [f"# generated from {shown_name}; constants: "
              + ", ".join(f"{k} = {_shown(v)}" for k, v in pool.items())] if pool else []
    return "\n".join(header + [ast.unparse(module)]) + "\n"


def _shown(value: object) -> str:
    if isinstance(value, TableInfo):
        return f"<table {value.name}>"
    if isinstance(value, first_match.Dispatch):
        return repr(value)
    if callable(value):
        return f"<function {getattr(value, '__name__', '?')}>"
    return repr(value)


#: What makes the fast path hand a fact set to the general path, which then raises exactly what
#: `resolve` raises (or, for a fact set that was not validated, decides as `resolve` does).
_GENERAL = (KeyError, TypeError, MissingFact, DivisionByZero, NoRow, CalendarProblem,
            OutOfRange)
_UNSET = object()


#: Makes the result of a decision from (decision, rule, outputs, deciding unit's index).
Make = Callable[[str, str, Outputs, int], Any]
#: Makes the result of a refusal; without one, a refusal raises `EvaluationError`.
Refuse = Callable[[EvaluationError], Any]


class CompiledPolicy:
    """The compiled evaluator: one Python function per rule condition and per rule outputs, and
    for first match one function that decides alone (see `first_match`).

    Args:
        policy: the checked policy.
        make: what `decider` returns for a decision: a `Verdict` unless the caller (`Policy`)
            gives its own result type.
        refuse: what `decider` returns for a refusal; None: it raises `EvaluationError`.
        shared: makes the results of rules with constant outputs, made once per policy and
            returned to every caller (so they must not be changeable); `make` by default.
    """

    def __init__(self, policy: CheckedPolicy, make: Make = Verdict,
                 refuse: Refuse | None = None, shared: Make | None = None) -> None:
        self.policy = policy
        self._make = make
        self._refuse_with = refuse
        self._refusal: Any = None  # the result of "no rule applies", made once
        self._pool: dict[str, object] = {}
        self._gen = ExpressionWriter(self._pool, policy)
        self._lock = threading.Lock()
        self._loaded: set[str] = set()
        self._rules: tuple[tuple[Callable[[Facts], int], ...],
                           tuple[Callable[[Facts], Outputs], ...],
                           dict[str, Callable[[Facts], Value]]] = ((), (), {})
        self._trace: Callable[[Facts, dict[int, Any]], int] | None = None
        self._namespace: dict[str, Any] = {
            "__builtins__": {},
            "_add": arithmetic.add, "_sub": arithmetic.sub, "_mul": arithmetic.mul,
            "_div": arithmetic.div, "_neg": arithmetic.neg, "_between": arithmetic.between,
            "_iadd": arithmetic.whole_add, "_isub": arithmetic.whole_sub,
            "_imul": arithmetic.whole_mul, "_dadd": arithmetic.date_add,
            "_dsub": arithmetic.date_sub, "_tadd": arithmetic.duration_add,
            "_tsub": arithmetic.duration_sub, "_tmul": arithmetic.duration_mul,
            "_madd": arithmetic.months_date_add, "_msub": arithmetic.months_date_sub,
            "_nadd": arithmetic.months_add, "_nsub": arithmetic.months_sub,
            "_nmul": arithmetic.months_mul,
            "_contains": _contains, "_lookup": runtime.lookup, "_round": arithmetic.round_value,
            "_exact_div": arithmetic.exact_div, "_working_days": runtime.count_working_days,
            "_u": _UNSET, "_errors": _GENERAL, "_slow": self._general, "_refuse": self._refuse,
            "_w": self._verdict, "_unknown": UNKNOWN, "_keep": _keep,
        }
        #: What the explanation precomputes for this policy (`explain.expand`), made once.
        self.explained: Any = None
        units = policy.units()
        self._units = units
        self._dated = policy.as_of is not None and any(u.effective for u in units)
        # What `evaluate` asks on every decision, asked once.
        self._first_match = policy.strategy == "first match"
        self._today_fact = policy.as_of if self._dated else None  # read by `_trace`
        self._work_out = self._outcomes  # the bound method, made once
        # The outputs and results of rules whose outputs are constants, made once per policy.
        self._plain_outputs: dict[int, Outputs] = {}
        self._plain: dict[int, Any] = {}
        for unit in units:
            if unit.kind != "advisory" and first_match.prebuilt(policy, unit):
                outputs = self._merged(first_match.constant_outputs(unit), ())
                self._plain_outputs[unit.index] = outputs
                self._plain[unit.index] = self._namespace[f"_y{unit.index}"] = (shared or make)(
                    unit.decision, unit.id, outputs, unit.index)
        #: The function that decides on validated facts without a trace: for first match the
        #: generated `_decide`, otherwise `resolve`; it returns what `make` makes.
        self.decider: Callable[[Facts], Any]
        if policy.strategy == "first match":
            namespace = self._load("decide")
            self._advise: Callable[[Facts], Outputs] | None = namespace.get("_advise")
            self.decider = namespace["_decide"]
        else:
            self._load("rules")  # what `resolve` asks
            self._advise = None
            self.decider = self._general

    def _load(self, part: str) -> dict[str, Any]:
        """Generates and compiles one part of the module (see `PARTS`), once."""
        with self._lock:
            namespace = self._namespace
            if part in self._loaded:
                return namespace
            before = set(self._pool)
            module = ast.Module(body=build_part(self._gen, part), type_ignores=[])
            code = compile(module, f"<policy:{self.policy.source.name}>", "exec")
            fresh = {name: self._pool[name] for name in self._pool if name not in before}
            namespace.update(fresh)
            exec(code, namespace)  # generated-code: built from ast nodes and constants only
            # The generated functions read these globals when they run, so they can come last.
            for name, pooled in fresh.items():
                if isinstance(pooled, first_match.Dispatch):
                    namespace[name] = {value: namespace[bucket]
                                       for value, bucket in pooled.table.items()}.get
            if part == "rules":
                count = len(self._units)
                self._rules = (
                    tuple(namespace[f"_c{i}"] for i in range(count)),
                    tuple(namespace[f"_o{i}"] for i in range(count)),
                    {define.name: namespace[f"_d{i}"]
                     for i, define in enumerate(self.policy.defines)})
            self._loaded.add(part)
            return namespace

    def positional_decision(self, params: dict[str, str]) -> ast.Try | None:
        """The fast path's decision as a statement that reads each fact from a local variable
        (`params`: fact -> local name) and returns the result, to run inside other generated
        code whose globals include `namespace`.

        For a caller that holds the facts in variables already (the compiled validator): it
        skips building the dict of facts. None when the decision reads the facts other than
        one at a time by name (derived values, outputs computed from facts, advisories,
        indexes, other strategies).
        """
        if self.policy.strategy != "first match":
            return None
        with self._lock:
            before = set(self._pool)
            made = first_match.FastWriter(self._gen, self.policy).decide()
            self._namespace.update({name: self._pool[name] for name in self._pool
                                    if name not in before})
        if len(made) != 1:
            return None  # index functions or `_advise`: they read the dict of facts
        return first_match.positional(made[0], params)

    @property
    def namespace(self) -> dict[str, Any]:
        """The globals of the generated code."""
        return self._namespace

    @property
    def _conditions(self) -> tuple[Callable[[Facts], int], ...]:
        if "rules" not in self._loaded:
            self._load("rules")
        return self._rules[0]

    @property
    def _outputs(self) -> tuple[Callable[[Facts], Outputs], ...]:
        if "rules" not in self._loaded:
            self._load("rules")
        return self._rules[1]

    @property
    def _derived(self) -> dict[str, Callable[[Facts], Value]]:
        if "rules" not in self._loaded:
            self._load("rules")
        return self._rules[2]

    # ------------------------------------------------------------ RuleEvaluator
    def condition(self, index: int, facts: Facts) -> int:
        try:
            return self._conditions[index](facts)
        except KeyError as error:  # only fact lookups raise KeyError in generated code
            raise MissingFact(str(error.args[0])) from None

    def outputs(self, index: int, facts: Facts) -> Outputs:
        try:
            return self._outputs[index](facts)
        except KeyError as error:
            raise MissingFact(str(error.args[0])) from None

    def derive(self, name: str, facts: Env) -> Value:
        try:
            return self._derived[name](facts)
        except KeyError as error:
            raise MissingFact(str(error.args[0])) from None

    # ------------------------------------------------------------ whole decisions
    def evaluate(self, facts: Facts) -> Evaluation:
        """Decides and records what the trace needs; the rules' outcomes are worked out from
        the record when first read.

        Raises:
            EvaluationError: as `resolution.resolve`.
        """
        policy = self.policy
        if not self._first_match:
            return resolution.resolve(policy, self, facts)
        trace = self._trace
        if trace is None:
            if any(len(rule.conjuncts) > first_match.LONG for rule in policy.rules):
                self._load("rules")  # the traced walk calls the `_cN` of long rules
            trace = self._trace = self._load("trace")["_trace"]
        failed: dict[int, Any] = {}
        try:
            index = trace(facts, failed)
        except _GENERAL:
            return resolution.resolve(policy, self, facts)
        if index < 0:
            raise resolution.no_decision(policy)
        decider = self._units[index]
        today = None if self._today_fact is None else facts[self._today_fact]
        assert today is None or isinstance(today, datetime.date)
        outputs = self._plain_outputs.get(index)
        advisories: tuple[RuleOutcome, ...] = ()
        if outputs is None or policy.advisories:
            # The deciding rule's outputs and the advice, asked as `resolve` asks them, so a
            # missing fact or a division by zero is refused exactly as there.
            env = resolution.environment(policy, self, facts)
            if outputs is None:
                asked = resolution.ask(self, decider, env, "outputs", policy.source.name)
                assert isinstance(asked, tuple)
                outputs = asked
            advisories, outputs = resolution.finish(policy, self, env, today, decider, outputs)
        # `tuple.__new__` itself: a named tuple's own `__new__` is a Python function, one more
        # call per decision.
        record = tuple.__new__(Record, (self, facts, today, failed, advisories, index))
        return Evaluation.later(decider.decision, decider.id, outputs, index, self._work_out,
                                record, record)

    def near(self) -> Callable[[Facts], tuple[tuple[bool | None, ...], ...]]:
        """First match: the generated function that evaluates each conjunct of each rule (by
        index) on its own (None: it cannot be computed), for near misses."""
        found: Callable[[Facts], tuple[tuple[bool | None, ...], ...]] = \
            self._load("near")["_near"]
        return found

    def _outcomes(self, record: Record
                  ) -> tuple[tuple[RuleOutcome, ...], tuple[RuleOutcome, ...]]:
        _, facts, today, failed, advisories, index = record
        decider = self._units[index]
        env = resolution.environment(self.policy, self, facts)
        outcomes = resolution.first_match_outcomes(self.policy, self, env, today, decider, failed)
        return outcomes, advisories

    def _general(self, facts: Facts) -> Any:
        """Decides on the general path (`resolve`), for what the fast path does not handle."""
        try:
            evaluation = resolution.resolve(self.policy, self, facts)
        except EvaluationError as error:
            if self._refuse_with is None:
                raise
            return self._refuse_with(error)
        return self._make(evaluation.decision, evaluation.rule, evaluation.outputs,
                          evaluation.index)

    def _refuse(self) -> Any:
        """No rule applies and the policy has no `otherwise` decision."""
        if self._refuse_with is None:
            raise resolution.no_decision(self.policy)
        if self._refusal is None:
            self._refusal = self._refuse_with(resolution.no_decision(self.policy))
        return self._refusal

    def _verdict(self, facts: Facts, index: int, outputs: Outputs) -> Any:
        """The fast path's result when the deciding rule's outputs are computed, or when the
        policy has advisories, which add to them."""
        added = self._advise(facts) if self._advise is not None else ()
        if not added and index in self._plain:
            return self._plain[index]
        decider = self._units[index]
        return self._make(decider.decision, decider.id, self._merged(outputs, added), index)

    def _merged(self, outputs: Outputs, added: Outputs) -> Outputs:
        """A decider's outputs with the advisories' items added, as `resolution.finish` does."""
        if self.policy.advisories:
            outputs = resolution.add_advice(self.policy, outputs, added)
        if self.policy.amount_outputs:
            outputs = resolution.typed_outputs(self.policy, outputs)
        return outputs


def _keep(record: dict[int, Any], key: int, value: Value) -> Value:
    """Keeps a derived value the traced walk computed in its record, and returns it."""
    record[key] = value
    return value


def _contains(collection: tuple[object, ...], item: object) -> bool:
    return item in collection
