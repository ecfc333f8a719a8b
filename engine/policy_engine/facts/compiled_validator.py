"""Compiled validator: one generated function per policy that checks and converts raw facts.

The fact stage proper (`validation` with JSON Schema, then `constraints`) finds every problem
and words it well, but it costs hundreds of microseconds a fact set. Most fact sets have no
problem at all, so `compile_validator` builds one Python function per policy that only answers
"valid, and here are the typed values" or "not sure": it reads each declared fact once, checks
its type, bounds and enumeration values, converts it exactly as `conversion.convert_value` does,
fills in defaults, rejects unknown keys and checks `require` and `ensure`. On any doubt it
returns None and the caller takes the full path, which then reports the problems. The function
must therefore never accept what the full path rejects, nor convert differently;
`tests/facts/test_validator_equivalence.py` holds them to that with random fact sets.

Like the compiler's, the generated code is built from `ast` nodes: names come from indexes,
policy text only ever becomes `ast.Constant` values, and values that are not literals
(amounts, dates, defaults) live in a constant pool.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, FactInfo
from policy_engine.check.types import (
    AmountType,
    BoolType,
    DateType,
    EnumType,
    ListType,
    TextType,
    Type,
    Value,
    WholeType,
)
from policy_engine.core.data import JsonPath, Locator
from policy_engine.core.diagnostics import Diagnostic
from policy_engine.evaluate.arithmetic import WHOLE_LIMIT
from policy_engine.evaluate.errors import MissingFact
from policy_engine.facts.constraints import (
    ENSURE,
    REQUIRE,
    SKIPPED,
    Violation,
    value_reader,
    word_violations,
)
from policy_engine.facts.conversion import DIGITS_CONTEXT, converter, quick_amount, quick_text
from policy_engine.facts.forms import AMOUNT_DIGITS

#: Validates raw facts: (facts, file, locate, prefix) -> typed facts, or DiagnosticError.
Validator = Callable[[object, str, Locator | None, JsonPath], dict[str, Value]]
FullValidator = Validator

#: Marks a fact that the raw facts leave out.
_ABSENT = object()

_COMPARE_OPS: dict[str, type[ast.cmpop]] = {
    "==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE,
}


# ---------------------------------------------------------------- code generation


def _name(ident: str) -> ast.Name:
    return ast.Name(ident, ast.Load())


def _store(ident: str) -> ast.Name:
    return ast.Name(ident, ast.Store())


def _is(left: ast.expr, right: ast.expr, negated: bool = False) -> ast.Compare:
    return ast.Compare(left, [ast.IsNot() if negated else ast.Is()], [right])


def _doubt() -> ast.Break:
    # The generated body runs inside `while True:`; leaving it means "take the full path".
    return ast.Break()


def _fail_if(test: ast.expr) -> ast.If:
    return ast.If(test, [_doubt()], [])


def _call(function: ast.expr, *args: ast.expr) -> ast.Call:
    return ast.Call(function, list(args), [])


def _class_of(ident: str) -> ast.Attribute:
    return ast.Attribute(_name(ident), "__class__", ast.Load())


class _Builder:
    """Builds the validator function for one policy, or (`decides`) the function that also
    decides on the facts it validated."""

    def __init__(self, policy: CheckedPolicy, *, decides: bool = False,
                 decision: Callable[[dict[str, str]], ast.stmt | None] | None = None,
                 refuses: bool = False, row: Mapping[str, str] | None = None) -> None:
        self.policy = policy
        #: For a typed row (`compile_decider`'s `row`): the attribute of each fact.
        self.row = row
        self.decides = decides
        self.decision = decision
        self.pool: dict[str, object] = {}
        self.slot: dict[str, str] = {}  # fact name -> local variable
        self.maybe_absent: set[str] = set()
        self.refuses = refuses

    def constant(self, value: object) -> ast.expr:
        if value is None or value.__class__ in (bool, int, str):
            return ast.Constant(value)
        ident = f"_q{len(self.pool)}"  # `_k` are the compiler's, which a decision may use
        self.pool[ident] = value
        return _name(ident)

    # ------------------------------------------------------------ facts
    def check(self, ident: str, t: Type) -> list[ast.stmt] | None:
        """Statements that check (and convert in place) the raw value in `ident`."""
        var = _name(ident)
        if isinstance(t, BoolType):
            return [_fail_if(_is(_class_of(ident), _name("_bool"), negated=True))]
        if isinstance(t, EnumType):
            return [_fail_if(ast.BoolOp(ast.Or(), [
                _is(_class_of(ident), _name("_str"), negated=True),
                ast.Compare(var, [ast.NotIn()], [self.constant(frozenset(t.values))]),
            ]))]
        if isinstance(t, TextType):
            return [ast.If(_is(_class_of(ident), _name("_str"), negated=True), [
                ast.Assign([_store(ident)], _call(self.constant(quick_text), var)),
                _fail_if(_is(var, ast.Constant(None))),
            ], [])]
        if isinstance(t, WholeType):
            body: list[ast.stmt] = [_fail_if(_is(_class_of(ident), _name("_int"), negated=True))]
            if t.minimum is None or t.maximum is None:
                # Bounds written in the policy lie within the engine's range; without both,
                # a whole number of more than MAX_DIGITS digits is a doubt (the full path
                # refuses it).
                body.append(_fail_if(ast.UnaryOp(ast.Not(), ast.Compare(
                    _name("_wmin"), [ast.Lt(), ast.Lt()], [var, _name("_wmax")]))))
            return body + self.bounds(ident, t)
        if isinstance(t, AmountType):
            return self.amount(ident, t)
        if isinstance(t, (DateType, ListType)):
            convert = converter(t)
            if convert is None:
                return None
            helper = self.constant(convert)
            return [
                ast.Assign([_store(ident)], _call(helper, var)),
                _fail_if(_is(var, ast.Constant(None))),
            ]
        return None

    def typed_check(self, ident: str, t: Type) -> list[ast.stmt] | None:
        """Statements that check (and convert) a fact read from a typed row, whose decoder
        has checked everything but amounts (see `compile_decider`); None for a type a typed
        row does not hold."""
        if isinstance(t, (BoolType, EnumType, TextType)):
            return []
        if isinstance(t, WholeType):
            return [] if t.minimum is not None and t.maximum is not None else None
        if isinstance(t, AmountType):
            return self.amount_text(ident, t, short=True)
        return None

    def bounds(self, ident: str, t: WholeType | AmountType, *,
               unsigned: bool = False) -> list[ast.stmt]:
        """The check of `t`'s bounds (`unsigned`: the value is known to be a number, never
        below 0, so a minimum of at most 0 needs no check)."""
        # Written as `not (low <= v <= high)`: a NaN, for which every comparison is false when
        # the caller's decimal context does not trap it, is then a doubt, never a pass.
        operands: list[ast.expr] = []
        ops: list[ast.cmpop] = []
        if t.minimum is not None and not (unsigned and t.minimum <= 0):
            operands.append(self.constant(t.minimum))
            ops.append(ast.LtE())
        operands.append(_name(ident))
        if t.maximum is not None:
            ops.append(ast.LtE())
            operands.append(self.constant(t.maximum))
        if not ops:
            return []
        return [_fail_if(ast.UnaryOp(ast.Not(), ast.Compare(operands[0], ops, operands[1:])))]

    def amount(self, ident: str, t: AmountType) -> list[ast.stmt]:
        # A Decimal (the usual form from YAML and from programs) is checked inline; ints and
        # text go through the helper, which converts them.
        var = _name(ident)
        exact: list[ast.stmt] = []
        if t.minimum is None or t.maximum is None:
            # With both bounds a NaN or an infinity fails the bounds; without, say so here.
            exact.append(_fail_if(ast.UnaryOp(ast.Not(), _call(
                ast.Attribute(var, "is_finite", ast.Load())))))
        limit = Decimal(10) ** (AMOUNT_DIGITS + 1)
        tiny = Decimal(10) ** -AMOUNT_DIGITS
        if not (t.minimum is not None and t.maximum is not None
                and t.minimum >= tiny and t.maximum < limit):
            # Bounds that keep the value away from 0 and from 10**29 settle the exponent.
            adjusted = _call(ast.Attribute(var, "adjusted", ast.Load()))
            exact.append(_fail_if(ast.Compare(_call(_name("_abs"), adjusted), [ast.Gt()],
                                              [ast.Constant(AMOUNT_DIGITS)])))
        # Raises decimal.Rounded (caught: not sure) for more than AMOUNT_DIGITS digits.
        exact.append(ast.Expr(_call(_name("_digits"), var)))
        exact += self.bounds(ident, t)
        return [ast.If(_is(_class_of(ident), _name("_Decimal")), exact,
                       self.amount_text(ident, t))]

    def amount_text(self, ident: str, t: AmountType, *, short: bool = False) -> list[ast.stmt]:
        """Statements that convert an amount held as anything but a Decimal, and check it
        (`short`: it is known to be a `str` of at most AMOUNT_DIGITS characters)."""
        # Short decimal text (the JSON form) is converted inline: at most AMOUNT_DIGITS
        # characters have at most that many digits, within that many places of the point.
        # Rather than a regular expression (which costs as much as the conversion), the text
        # must be ASCII, all digits once one '.' is taken out, and not begin or end with '.':
        # exactly `[0-9]+(\.[0-9]+)?`, which `_parse` (whatever the caller's decimal context)
        # converts as the full path does. Negative amounts take the helper.
        var = _name(ident)
        text = [
            ast.Assign([_store(ident)], _call(_name("_parse"), var)),
            *self.bounds(ident, t, unsigned=True),  # digits and a point: never below 0
        ]
        helper = self.constant(lambda raw: quick_amount(t, raw))
        other: list[ast.stmt] = [
            ast.Assign([_store(ident)], _call(helper, var)),
            _fail_if(_is(var, ast.Constant(None))),
        ]
        without_point = ast.Call(ast.Attribute(var, "replace", ast.Load()),
                                 [ast.Constant("."), ast.Constant(""), ast.Constant(1)], [])
        short_text = ast.BoolOp(ast.And(), [
            *([] if short else [
                _is(_class_of(ident), _name("_str")),
                ast.Compare(_call(_name("_len"), var), [ast.LtE()],
                            [ast.Constant(AMOUNT_DIGITS)])]),
            _call(ast.Attribute(var, "isascii", ast.Load())),
            _call(ast.Attribute(without_point, "isdecimal", ast.Load())),
            # Neither first nor last is '.': `t[0] != '.' != t[-1]`.
            ast.Compare(ast.Subscript(var, ast.Constant(0), ast.Load()),
                        [ast.NotEq(), ast.NotEq()],
                        [ast.Constant("."), ast.Subscript(var, ast.Constant(-1), ast.Load())]),
        ])
        return [ast.If(short_text, text, other)]

    def fact(self, index: int, info: FactInfo) -> list[ast.stmt] | None:
        ident = f"v{index}"
        self.slot[info.name] = ident
        if self.row is not None:  # a typed row holds every fact: it refuses rows without
            typed = self.typed_check(ident, info.type) if info.required else None
            if typed is None:
                return None
            return [ast.Assign([_store(ident)], ast.Attribute(
                _name("raw"), self.row[info.name], ast.Load())), *typed]
        check = self.check(ident, info.type)
        if check is None:
            return None
        key = ast.Constant(info.name)
        if info.required:
            return [ast.Assign([_store(ident)], ast.Subscript(_name("raw"), key, ast.Load())),
                    *check]
        fetch = ast.Assign([_store(ident)], _call(
            ast.Attribute(_name("raw"), "get", ast.Load()), key, _name("_M")))
        count = ast.AugAssign(_store("n"), ast.Add(), ast.Constant(1))
        if info.default is not None:
            return [fetch, ast.If(_is(_name(ident), _name("_M")),
                                  [ast.Assign([_store(ident)], self.constant(info.default))],
                                  [count, *check])]
        # An optional fact without a default. null is no value (the check fails on it, and
        # the full path refuses it with E314): a fact that is not given is left out.
        self.maybe_absent.add(info.name)
        return [fetch, ast.If(_is(_name(ident), _name("_M"), negated=True), [count, *check],
                              [])]

    def result(self) -> list[ast.stmt]:
        facts = self.policy.facts
        # The facts always present, up to the first optional one, in one dict display; the
        # rest one by one, so the result keeps the declaration order like the full path.
        head: list[FactInfo] = []
        for info in facts:
            if info.name in self.maybe_absent:
                break
            head.append(info)
        body: list[ast.stmt] = [ast.Assign([_store("r")], ast.Dict(
            [ast.Constant(info.name) for info in head],
            [_name(self.slot[info.name]) for info in head]))]
        for info in facts[len(head):]:
            store = ast.Assign([ast.Subscript(_name("r"), ast.Constant(info.name), ast.Store())],
                               _name(self.slot[info.name]))
            if info.name in self.maybe_absent:
                body.append(ast.If(_is(_name(self.slot[info.name]), _name("_M"), negated=True),
                                   [store], []))
            else:
                body.append(store)
        return body

    # ------------------------------------------------------------ require and ensure
    def expr(self, node: c.CExpr) -> ast.expr:
        """The expression in Python, reading facts from the locals; anything unusual is left
        to the interpreter, so derived values, functions and arithmetic mean the same."""
        if isinstance(node, c.FactRef) and node.name in self.slot:
            ident = self.slot[node.name]
            if node.name in self.maybe_absent:
                return ast.IfExp(_is(_name(ident), _name("_M"), negated=True), _name(ident),
                                 _call(_name("_missing"), ast.Constant(node.name)))
            return _name(ident)
        if isinstance(node, c.Const):
            return self.constant(node.value)
        if isinstance(node, c.ListExpr):
            return ast.Tuple([self.expr(item) for item in node.items], ast.Load())
        if isinstance(node, c.Not):
            return ast.UnaryOp(ast.Not(), self.expr(node.operand))
        if isinstance(node, c.Compare):
            return ast.Compare(self.expr(node.left), [_COMPARE_OPS[node.op]()],
                               [self.expr(node.right)])
        if isinstance(node, c.InList):
            op: ast.cmpop = ast.NotIn() if node.negated else ast.In()
            return ast.Compare(self.expr(node.subject), [op], [self.expr(node.options)])
        if isinstance(node, c.ListContains):
            return ast.Compare(self.expr(node.item), [ast.In()], [self.expr(node.subject)])
        if isinstance(node, c.Presence):
            op = ast.In() if node.present else ast.NotIn()
            return ast.Compare(ast.Constant(node.fact), [op], [_name("r")])
        if isinstance(node, c.Between):
            # Python reads `low <= s <= high` in another order than the interpreter; that can
            # only change which problem is met first, and every problem means "not sure".
            return ast.Compare(self.expr(node.low), [ast.LtE(), ast.LtE()],
                               [self.expr(node.subject), self.expr(node.high)])
        if isinstance(node, c.Logic):
            return ast.BoolOp(ast.And() if node.op == "and" else ast.Or(),
                              [self.expr(operand) for operand in node.operands])
        if isinstance(node, c.Conditional):
            return ast.IfExp(self.expr(node.test), self.expr(node.then),
                             self.expr(node.otherwise))
        return _call(_name("_interpreted"), self.constant(node), _name("r"))

    def holds(self, node: c.CExpr, then: list[ast.stmt], *, when_false: bool) -> ast.Try:
        """`then` runs when the condition is true (or false, with `when_false`); a condition
        that cannot be evaluated (a missing fact, a division by zero) runs nothing."""
        test = self.expr(node)
        if when_false:
            test = ast.UnaryOp(ast.Not(), test)
        return ast.Try([ast.If(test, then, [])],
                       [ast.ExceptHandler(_name("_Skip"), None, [ast.Pass()])], [], [])

    def violated(self, item: tuple[str, int, str | None]) -> list[ast.stmt]:
        """What a violated constraint does: a doubt, or (`refuses`) a note of it in `f`, so
        that the refusal is worded from the checked facts without the full path."""
        if not self.refuses:
            return [_doubt()]
        return [ast.Assign([_store("f")], _call(_name("_noted"), _name("f"),
                                                self.constant(item)))]

    def constraints(self) -> list[ast.stmt]:
        body: list[ast.stmt] = []
        for index, require in enumerate(self.policy.requires):
            checks: list[ast.stmt] = []
            for fact in require.facts:
                if fact in self.maybe_absent:
                    test: ast.expr = _is(_name(self.slot[fact]), _name("_M"))
                elif fact not in self.slot:
                    test = ast.Compare(ast.Constant(fact), [ast.NotIn()], [_name("r")])
                else:
                    continue
                checks.append(ast.If(test, self.violated((REQUIRE, index, fact)), []))
            if not checks:
                continue
            if require.when is None:
                body += checks
            else:
                body.append(self.holds(require.when, checks, when_false=False))
        for index, ensure in enumerate(self.policy.ensures):
            violated = self.holds(ensure.condition, self.violated((ENSURE, index, None)),
                                  when_false=True)
            if ensure.when is None:
                body.append(violated)
            else:
                body.append(self.holds(ensure.when, [violated], when_false=False))
        return body

    def refusing(self, constraints: list[ast.stmt]) -> list[ast.stmt]:
        """The constraints' checks, then (`refuses`) the refusal when one was violated: every
        fact was checked and converted by then, so it is worded from them as the full path
        would word it, without running the full path."""
        if not constraints or not self.refuses:
            return constraints
        return [ast.Assign([_store("f")], ast.Constant(None)), *constraints,
                ast.If(_is(_name("f"), ast.Constant(None), negated=True),
                       [*self.result(),
                        ast.Return(_call(_name("_refusal_of"), _name("r"), _name("f"),
                                         _name("file"), _name("locate"), _name("prefix")))],
                       [])]

    def build(self) -> ast.Module | None:
        typed = self.row is not None
        body: list[ast.stmt] = [
            _fail_if(_is(_class_of("raw"), _name("_row" if typed else "_dict"), negated=True)),
        ]
        if not typed:
            body.append(ast.Assign([_store("n")], ast.Constant(
                sum(1 for i in self.policy.facts if i.required))))
        for index, info in enumerate(self.policy.facts):
            statements = self.fact(index, info)
            if statements is None:
                return None
            body += statements
        if not typed:  # a typed row has no other keys: its decoder refuses unknown ones
            # Every key of the raw facts was a declared fact: nothing unknown.
            body.append(_fail_if(ast.Compare(_call(_name("_len"), _name("raw")),
                                             [ast.NotEq()], [_name("n")])))
        constraints = self.constraints()
        reads_dict = any(isinstance(node, ast.Name) and node.id == "r"
                         for statement in constraints for node in ast.walk(statement))
        inline = None
        if self.decision is not None and not reads_dict and not self.maybe_absent:
            # The facts stay in the locals, and the decision reads them there.
            inline = self.decision(self.slot)
        if inline is None:
            body += self.result()
            final = _call(_name("_decide_dict"), _name("r")) if self.decides else _name("r")
            inline = ast.Return(final)
        body += self.refusing(constraints)
        # Anything unexpected (a KeyError for a missing fact, an unhashable value) is a doubt.
        guarded = ast.Try(body, [ast.ExceptHandler(_name("Exception"), None, [_doubt()])],
                          [], [])
        slow: ast.expr = _call(_name("_slow_decide" if self.decides else "_full"), _name("raw"),
                               _name("file"), _name("locate"), _name("prefix"))
        arguments = ast.arguments([], [ast.arg("raw"), ast.arg("file"), ast.arg("locate"),
                                       ast.arg("prefix")], None, [], [], None,
                                  [ast.Constant("<facts>"), ast.Constant(None),
                                   ast.Tuple([ast.Constant("facts")], ast.Load())])
        loop = ast.While(ast.Constant(True), [guarded, inline], [])
        function = ast.FunctionDef("decide_facts" if self.decides else "validate_facts",
                                   arguments, [loop, ast.Return(slow)], [], None)
        module = ast.Module([function], [])
        ast.fix_missing_locations(module)
        return module


def compile_validator(policy: CheckedPolicy, full: FullValidator) -> Validator:
    """Builds the validator of a policy: the compiled checks, then `full` when in doubt.

    Args:
        policy: the checked policy.
        full: the full fact stage, called with the same arguments when the compiled checks
            are not sure the facts are valid; it finds and reports the problems.

    Returns:
        A function of (raw facts, file, locate, prefix) giving the typed facts, exactly as
        `full` would; it is `full` itself when the policy has facts the fast path does not
        handle.
    """
    return _compile(_Builder(policy), full, {}) or full


def compile_decider(policy: CheckedPolicy, slow: Callable[..., Any], decide: Callable[..., Any],
                    decision: Callable[[dict[str, str]], ast.stmt | None] | None = None,
                    globals_: Mapping[str, Any] | None = None,
                    refuse: Callable[[list[Diagnostic]], Any] | None = None,
                    row: tuple[type, Mapping[str, str]] | None = None) -> Callable[..., Any]:
    """Builds a function that validates raw facts and decides on them, in one call.

    Valid facts never leave the locals of the compiled checks: the decision's own code
    (`decision`, given the local of each fact) runs right after them, with the globals it
    needs (`globals_`). Without it, or when the checks must build the dict of facts anyway,
    the dict goes to `decide`. Facts the checks are not sure of go to `slow` whole.

    Args:
        policy: the checked policy.
        slow: called with (raw facts, file, locate, prefix) when the checks are not sure the
            facts are valid: the full fact stage, constraints and decision; it gives the result
            or raises `DiagnosticError`.
        decide: the decision on validated facts.
        decision: writes the decision's statement reading facts from given locals, or None.
        globals_: the names that statement reads.
        refuse: the result for the diagnostics of violated constraints (what `slow` gives
            for them); without it, facts that violate one go to `slow`.
        row: the function takes typed rows instead of dicts: objects of exactly this class,
            with each fact in the attribute named for it (every fact then required). Their
            decoder has checked every value but amounts, so the function does not check them
            again: a yes/no is a bool, a value of an enumeration one of its values, a whole
            number an int within its bounds (which it must have), text a str, and an amount
            a str of at most AMOUNT_DIGITS characters (checked and converted here, exactly as
            on the dict path). Anything else
            is given to `slow`; and a policy with facts a typed row cannot hold (an optional
            fact, a date, a list, a whole number without both bounds) gets `slow` itself.
    """
    extra: dict[str, Any] = {"_decide_dict": decide, "_slow_decide": slow}
    fields = None
    if row is not None:
        extra["_row"], fields = row
    if refuse is not None:
        extra["_noted"] = _note

        def refused(typed: dict[str, Value], found: list[Violation], file: str,
                    locate: Locator | None, prefix: JsonPath) -> Any:
            return refuse(word_violations(policy, found, typed, file=file, locate=locate,
                                          prefix=prefix))

        extra["_refusal_of"] = refused
    refuses = refuse is not None
    function = None
    if decision is not None and globals_ is not None:
        function = _compile(_Builder(policy, decides=True, decision=decision,
                                     refuses=refuses, row=fields), slow, extra, globals_)
    if function is None:
        function = _compile(_Builder(policy, decides=True, refuses=refuses, row=fields),
                            slow, extra)
    if function is None:
        function = slow
    return function


def _note(found: list[Violation] | None, item: Violation) -> list[Violation]:
    """Adds a violated constraint to those the compiled checks found (None: none yet)."""
    if found is None:
        found = []
    found.append(item)
    return found


def _compile(builder: _Builder, full: FullValidator, extra: dict[str, Any],
             shared: Mapping[str, Any] | None = None) -> Callable[..., Any] | None:
    """Builds and compiles the function; None when the policy's facts are not all handled,
    or when the globals `shared` with inlined code (read after building it, since writing
    the code may add constants to them) would clash with the validator's own."""
    def missing(name: str) -> None:
        raise MissingFact(name)

    module = builder.build()
    if module is None:
        return None
    policy = builder.policy
    namespace: dict[str, Any] = {
        "__builtins__": {},
        "Exception": Exception,
        "_M": _ABSENT,
        "_dict": dict, "_str": str, "_int": int, "_bool": bool, "_Decimal": Decimal,
        "_len": len, "_abs": abs, "_wmin": -WHOLE_LIMIT, "_wmax": WHOLE_LIMIT,
        "_digits": DIGITS_CONTEXT.plus,
        "_parse": DIGITS_CONTEXT.create_decimal,
        "_missing": missing,
        "_Skip": SKIPPED,
        "_interpreted": value_reader(policy),
        "_full": full,
        **extra,
    }
    namespace.update(builder.pool)
    if shared is not None:
        inlined = {name: value for name, value in shared.items() if name != "__builtins__"}
        if inlined.keys() & namespace.keys():
            return None
        namespace.update(inlined)
    code = compile(module, f"<facts:{policy.source.name}>", "exec")
    exec(code, namespace)  # generated-code: built from ast nodes and constants only
    function: Callable[..., Any] = namespace[module.body[0].name]  # type: ignore[attr-defined]
    return function


def generated_validator_source(policy: CheckedPolicy) -> str:
    """The validator's code as text, for reading and debugging."""
    module = _Builder(policy).build()
    return "" if module is None else ast.unparse(module)


def typed_equal(a: Mapping[str, Value] | None, b: Mapping[str, Value] | None) -> bool:
    """Whether two typed fact sets are the same, value types and decimal exponents included."""
    if a is None or b is None:
        return a is b
    return list(a) == list(b) and all(_same(a[key], b[key]) for key in a)


def _same(x: object, y: object) -> bool:
    if x.__class__ is not y.__class__:
        return False
    if isinstance(x, tuple):
        assert isinstance(y, tuple)
        return len(x) == len(y) and all(_same(i, j) for i, j in zip(x, y, strict=True))
    if isinstance(x, Decimal):
        assert isinstance(y, Decimal)
        return x.as_tuple() == y.as_tuple()
    return x == y
