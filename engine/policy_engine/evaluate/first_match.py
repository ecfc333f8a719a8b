"""First match: a first-match policy as one generated decision function, with rule indexes.

`compiler` asks this module for more generated functions besides the per-rule ones:

- `_decide(f)` decides alone: an if-chain over the conditions in first-match order (each rule
  after its exceptions) that returns a result built once per policy (`_yN`) when the rule's
  outputs are constants, or calls `_w` to compute the deciding rule's outputs and run the
  advisories. Derived values are local variables computed on first use. Any problem (a missing
  fact, a division by zero, a table without a row) makes it start again on the general path
  (`_slow`, that is `resolution.resolve`), so errors are exactly the ones `resolve` raises.
- `_trace(f, r)` does the same walk but writes the first false conjunct of each rule it tries
  into `r`, keeps each derived value it computes there too (under `-1 - j`), and returns the
  index of the deciding unit (-1: nothing decides); the explanation is expanded from that
  compact record (`explain.expand`), and the rules' outcomes worked out from it when read.
- `_near(f)`, for near misses, evaluates each conjunct of each rule on its own (None: unknown),
  inline, or through a function per rule (`_nI(f)`) for a large policy.

A stretch of rules whose first conjuncts test one enumeration or yes/no fact for equality or
membership (`category is c1`, `region in [r1, r2]`, `flag`, `not flag`) is dispatched with a
dict from the fact's value to a function holding only the rules that can match it, in policy
order: the rules accepting that value, whose test is then skipped, and the rules of the stretch
with no such test. A rule left out of a value's function has a false first conjunct, so for it
first match only ever records "did not apply at conjunct 0".
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, CheckedRule
from policy_engine.check.types import BoolType, EnumType, Value
from policy_engine.evaluate.codegen import ExpressionWriter, at, function

#: A stretch of rules is indexed on a fact when more than this many of them test it first.
INDEX_MIN = 8
#: Rules without a test on the indexed fact are repeated in every value's function; an index
#: whose repeats exceed this many rules (plus twice the stretch's length) is split instead.
REPEAT_BUDGET = 64
#: The traced walk tests a rule's conjuncts in a chain of `elif`s, one level deeper each; a rule
#: with more conjuncts than this calls its `_cN` instead (compiled with the per-rule part).
#: `_decide` shares tests of common first conjuncts at most this many levels deep.
LONG = 32
#: `_near` evaluates up to this many conjuncts inline, in one function; a larger policy gets a
#: function per rule that `_near` calls (one function of thousands of statements would take
#: long to compile, for a trace that reads only a few of them).
NEAR_INLINE = 256


# ---------------------------------------------------------------- planning the indexes


Key = tuple[str, tuple[Value, ...]]


def key_of(rule: CheckedRule, indexable: frozenset[str]) -> Key | None:
    """The fact a rule's first conjunct tests for equality or membership, and the values."""
    if not rule.conjuncts:
        return None
    expr = rule.conjuncts[0].expr
    values: tuple[Value, ...]
    if isinstance(expr, c.Compare) and expr.op == "==" and isinstance(expr.left, c.FactRef) \
            and isinstance(expr.right, c.Const):
        fact, values = expr.left.name, (expr.right.value,)
    elif isinstance(expr, c.InList) and not expr.negated and isinstance(expr.subject, c.FactRef):
        options = expr.options
        if isinstance(options, c.Const) and isinstance(options.value, tuple):
            values = options.value
        elif isinstance(options, c.ListExpr) and all(isinstance(i, c.Const)
                                                       for i in options.items):
            values = tuple(i.value for i in options.items if isinstance(i, c.Const))
        else:
            return None
        fact = expr.subject.name
    elif isinstance(expr, c.FactRef) and isinstance(expr.type, BoolType):
        fact, values = expr.name, (True,)
    elif isinstance(expr, c.Not) and isinstance(expr.operand, c.FactRef) \
            and isinstance(expr.operand.type, BoolType):
        fact, values = expr.operand.name, (False,)
    else:
        return None
    return (fact, tuple(dict.fromkeys(values))) if fact in indexable else None


@dataclass(frozen=True)
class Index:
    """A stretch of first-match order dispatched on the value of one fact.

    Args:
        fact: the fact whose value picks the candidates.
        rules: the stretch, in first-match order.
        keys: for each rule of the stretch that tests the fact first, the values it accepts.
    """

    fact: str
    rules: tuple[CheckedRule, ...]
    keys: dict[int, tuple[Value, ...]]

    def buckets(self) -> tuple[tuple[CheckedRule, ...], dict[Value, tuple[CheckedRule, ...]]]:
        """The rules that can match for a value no rule names, and for each value named."""
        untested: list[CheckedRule] = []
        found: dict[Value, list[CheckedRule]] = {}
        for rule in self.rules:
            values = self.keys.get(rule.index)
            if values is None:
                untested.append(rule)
                for candidates in found.values():
                    candidates.append(rule)
                continue
            for value in values:
                if value not in found:
                    found[value] = list(untested)
                found[value].append(rule)
        return tuple(untested), {value: tuple(rules) for value, rules in found.items()}


def plan(policy: CheckedPolicy, rules: Sequence[CheckedRule]) -> list[CheckedRule | Index]:
    """Splits rules (in first-match order) into rules tried one by one and indexed stretches."""
    indexable = frozenset(f.name for f in policy.facts
                          if isinstance(f.type, EnumType | BoolType))
    keys = {r.index: k for r in rules if (k := key_of(r, indexable)) is not None}
    counts: dict[str, int] = {}
    for key in keys.values():
        counts[key[0]] = counts.get(key[0], 0) + 1
    if not counts or max(counts.values()) <= INDEX_MIN:
        return list(rules)
    fact = max(counts, key=lambda name: counts[name])  # the first of the most tested
    tested = [i for i, r in enumerate(rules) if keys.get(r.index, ("",))[0] == fact]
    first, last = tested[0], tested[-1]
    stretch = tuple(rules[first:last + 1])
    own = {r.index: keys[r.index][1] for r in stretch if keys.get(r.index, ("",))[0] == fact}
    untested = len(stretch) - len(own)
    distinct = len({v for values in own.values() for v in values})
    if untested * (distinct + 1) <= 2 * len(stretch) + REPEAT_BUDGET:
        return plan(policy, rules[:first]) + [Index(fact, stretch, own)] + plan(
            policy, rules[last + 1:])
    # Too many rules would be repeated: index only the runs of rules that all test the fact.
    found: list[CheckedRule | Index] = plan(policy, rules[:first])
    start = first
    while start <= last:
        end = start
        while end <= last and rules[end].index in own:
            end += 1
        run = tuple(rules[start:end])
        if len(run) > INDEX_MIN:
            found.append(Index(fact, run, {r.index: own[r.index] for r in run}))
        else:
            found.extend(run)
        gap = start = end
        while start <= last and rules[start].index not in own:
            start += 1
        found.extend(plan(policy, rules[gap:start]))
    return found + plan(policy, rules[last + 1:])


# ---------------------------------------------------------------- generating the functions


@dataclass(frozen=True)
class Dispatch:
    """A pooled index: the function (by name) for each value of a fact; the compiled policy
    replaces it with the `get` of a dict of the functions themselves."""

    fact: str
    table: dict[Value, str]

    def __repr__(self) -> str:
        shown = ", ".join(f"{value!r}: {name}" for value, name in self.table.items())
        return f"<index on {self.fact!r}: {{{shown}}}>"


def prebuilt(policy: CheckedPolicy, rule: CheckedRule) -> bool:
    """Whether the fast path returns a result built once for this rule (constant outputs).

    With advisories, such a result is built too, for when no advisory adds to it.
    """
    return all(_constant(expr) for _, expr in rule.outputs)


def _constant(expr: c.CExpr) -> bool:
    return isinstance(expr, c.Const) or (
        isinstance(expr, c.ListExpr) and all(isinstance(i, c.Const) for i in expr.items))


def constant_outputs(rule: CheckedRule) -> tuple[tuple[str, Value], ...]:
    """The outputs of a rule for which `prebuilt` holds."""
    return tuple((name, expr.value if isinstance(expr, c.Const) else tuple(
        i.value for i in expr.items if isinstance(i, c.Const)))  # type: ignore[union-attr]
        for name, expr in rule.outputs)


def _name(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(_name(name), list(args), [])


class FastWriter:
    """Writes `_decide`, `_trace` and the functions of their indexes."""

    def __init__(self, gen: ExpressionWriter, policy: CheckedPolicy) -> None:
        self.gen = gen
        self.policy = policy
        self.dated = policy.as_of is not None and any(u.effective for u in policy.units())
        self.functions: list[ast.FunctionDef] = []
        self.buckets = 0
        self._today = False

    def line(self, conjunct: c.Conjunct) -> int:
        return self.policy.source.line_col(conjunct.span.start)[0]

    def items(self) -> list[CheckedRule | Index]:
        rules = [r for r in self.policy.first_match_order if r.effective is None or self.dated]
        return plan(self.policy, rules)

    def decide(self) -> list[ast.FunctionDef]:
        """`_decide` (after the functions of its indexes), and `_advise` if there are advisories."""
        policy = self.policy
        items = self.items()
        line = policy.rules[0].line if policy.rules else 1
        body = self.body(lambda: self.sequence(items, False) + self.ending(False), line,
                         protect=True, today=self.dated)
        made = [*self.functions, function("_decide", body, line)]
        if policy.advisories:
            line = policy.advisories[0].line
            made.append(function("_advise", self.body(self.advice, line), line))
        self.functions = []
        return made

    def trace(self) -> list[ast.FunctionDef]:
        """`_trace` (after the functions of its indexes)."""
        items = self.items()
        line = self.policy.rules[0].line if self.policy.rules else 1
        self.gen.recorded = True
        try:
            body = self.body(lambda: self.sequence(items, True) + self.ending(True), line,
                             today=self.dated)
        finally:
            self.gen.recorded = False
        made = [*self.functions, function("_trace", body, line, ("f", "r"))]
        self.functions = []
        return made

    def near(self) -> list[ast.FunctionDef]:
        """`_near(f)`: for each rule (by index), each of its conjuncts evaluated on its own,
        True, False or None when it cannot be computed (a missing fact, a division by
        zero...): what the near misses of a decision by default show. One function, every
        conjunct inline (no call per rule), up to `NEAR_INLINE` conjuncts; beyond, a function
        per rule, `_nI(f)`, that `_near` calls."""
        rules = self.policy.rules
        inline = sum(len(rule.conjuncts) for rule in rules) <= NEAR_INLINE
        made: list[ast.FunctionDef] = []
        body: list[ast.stmt] = []
        results: list[ast.expr] = []
        self.gen.pure = True
        try:
            for rule in rules:
                tried = self.tried(rule, f"_j{rule.index}_" if inline else "_j")
                if inline:
                    body.extend(tried)
                    results.append(ast.Tuple([_name(f"_j{rule.index}_{p}")
                                              for p in range(len(rule.conjuncts))], ast.Load()))
                    continue
                tuple_ = ast.Tuple([_name(f"_j{p}") for p in range(len(rule.conjuncts))],
                                   ast.Load())
                made.append(function(f"_n{rule.index}", [*tried, at(ast.Return(tuple_),
                                                                     rule.line)], rule.line))
                results.append(_call(f"_n{rule.index}", _name("f")))
        finally:
            self.gen.pure = False
        line = rules[0].line if rules else 1
        body.append(at(ast.Return(ast.Tuple(results, ast.Load())), line))
        return [*made, function("_near", body, line)]

    def tried(self, rule: CheckedRule, prefix: str) -> list[ast.stmt]:
        """Each conjunct of a rule evaluated on its own into `{prefix}{position}`."""
        body: list[ast.stmt] = []
        for position, conjunct in enumerate(rule.conjuncts):
            local = ast.Name(f"{prefix}{position}", ast.Store())
            test = ast.IfExp(self.gen.visit(conjunct.expr), ast.Constant(True),
                             ast.Constant(False))
            handler = ast.ExceptHandler(_name("_unknown"), None, [
                ast.Assign([local], ast.Constant(None))])
            body.append(at(ast.Try([ast.Assign([local], test)], [handler], [], []),
                           self.line(conjunct)))
        return body

    def advice(self) -> list[ast.stmt]:
        """`_advise(f)`: the (output, items) pairs of the advisories that apply, in order."""
        out: list[ast.stmt] = [ast.Assign([ast.Name("_a", ast.Store())], ast.Tuple([], ast.Load()))]
        for advisory in self.policy.advisories:
            if advisory.effective is not None and not self.dated:
                continue  # never in effect: there is no as-of day
            tests = self.effective(advisory) + [at(self.gen.visit(j.expr), self.line(j))
                                                for j in advisory.conjuncts]
            pairs: list[ast.expr] = [ast.Tuple([ast.Constant(name), self.gen.visit(expr)],
                                               ast.Load()) for name, expr in advisory.outputs]
            add: ast.stmt = ast.Assign([ast.Name("_a", ast.Store())], ast.BinOp(
                _name("_a"), ast.Add(), ast.Tuple(pairs, ast.Load())))
            if tests:
                test: ast.expr = tests[0] if len(tests) == 1 else ast.BoolOp(ast.And(), tests)
                add = ast.If(test, [add], [])
            out.append(at(add, advisory.line))
        return out + [ast.Return(_name("_a"))]

    def body(self, write: Callable[[], list[ast.stmt]], line: int, protect: bool = False,
             today: bool = False) -> list[ast.stmt]:
        """A function body with its derived values (`_vN`) and the as-of day (`_t`) set up.

        The decision functions read the as-of day first, whether or not they need it, because
        `resolve` does.
        """
        self.gen.used = set()
        self._today = today
        statements = write()
        head: list[ast.stmt] = []
        if self._today:
            assert self.policy.as_of is not None
            head.append(ast.Assign([ast.Name("_t", ast.Store())], ast.Subscript(
                _name("f"), ast.Constant(self.policy.as_of), ast.Load())))
        statements = head + statements
        if protect:
            # Anything unusual is decided again by the general path, which raises exactly.
            handler = ast.ExceptHandler(_name("_errors"), None,
                                        [ast.Return(_call("_slow", _name("f")))])
            statements = [ast.Try(statements, [handler], [], [])]
        setup: list[ast.stmt] = [ast.Assign([ast.Name(f"_v{j}", ast.Store())], _name("_u"))
                                 for j in sorted(self.gen.used)]
        self.gen.used = None
        return [at(s, line) for s in setup] + statements

    def sequence(self, items: Sequence[CheckedRule | Index], traced: bool,
                 skip: frozenset[int] = frozenset()) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        run: list[tuple[CheckedRule, int]] = []  # rules in a row, and the conjuncts to skip
        for item in [*items, None]:
            if not isinstance(item, CheckedRule) and run:
                code, final = self.tree(run, traced)
                out.extend(code)
                run = []
                if final:
                    break
            if isinstance(item, Index):
                out.extend(self.dispatch(item, traced))
            elif item is not None:
                run.append((item, 1 if item.index in skip else 0))
        return out

    def tree(self, run: list[tuple[CheckedRule, int]], traced: bool
             ) -> tuple[list[ast.stmt], bool]:
        """Rules in a row, and whether the code always returns.

        In `_decide`, rules in a row that begin with the same conjunct share one test of it
        (`if not received:` around the rules that need it), recursively: conditions have no
        effects, so testing a conjunct once gives what testing it for each rule would.
        """
        out: list[ast.stmt] = []
        i = 0
        while i < len(run):
            rule, depth = run[i]
            j = i + 1
            if not traced and rule.effective is None and depth < min(len(rule.conjuncts), LONG):
                shared = rule.conjuncts[depth]
                while j < len(run) and run[j][0].effective is None \
                        and run[j][1] < len(run[j][0].conjuncts) \
                        and run[j][0].conjuncts[run[j][1]].expr == shared.expr:
                    j += 1
            if j - i >= 2:
                inner, _ = self.tree([(r, d + 1) for r, d in run[i:j]], traced)
                test = at(self.gen.visit(shared.expr), self.line(shared))
                out.append(at(ast.If(test, inner, []), rule.line))
            else:
                code, final = self.rule(rule, traced, depth)
                out.extend(code)
                if final:
                    return out, True
            i = j
        return out, False

    def effective(self, rule: CheckedRule) -> list[ast.expr]:
        if rule.effective is None:
            return []
        self._today = True
        start, end = rule.effective.start, rule.effective.end
        if start is not None and end is not None:
            return [ast.Compare(self.gen.constant(start), [ast.LtE(), ast.LtE()],
                                [_name("_t"), self.gen.constant(end)])]
        if start is not None:
            return [ast.Compare(self.gen.constant(start), [ast.LtE()], [_name("_t")])]
        assert end is not None
        return [ast.Compare(_name("_t"), [ast.LtE()], [self.gen.constant(end)])]

    def result(self, rule: CheckedRule) -> ast.expr:
        if prebuilt(self.policy, rule) and not self.policy.advisories:
            return _name(f"_y{rule.index}")
        pairs: list[ast.expr] = [ast.Tuple([ast.Constant(name), self.gen.visit(expr)], ast.Load())
                                 for name, expr in rule.outputs]
        return _call("_w", _name("f"), ast.Constant(rule.index), ast.Tuple(pairs, ast.Load()))

    def rule(self, rule: CheckedRule, traced: bool, skip: int) -> tuple[list[ast.stmt], bool]:
        """A rule's code, and whether it always returns (nothing after it can run)."""
        tests = [at(self.gen.visit(j.expr), self.line(j)) for j in rule.conjuncts[skip:]]
        when = self.effective(rule)
        if traced and len(rule.conjuncts) > LONG:
            # An elif per conjunct would nest too deeply: ask the rule's own function.
            found = _call(f"_c{rule.index}", _name("f"))
            chain: list[ast.stmt] = [
                ast.Assign([ast.Name("_x", ast.Store())], found),
                ast.If(ast.Compare(_name("_x"), [ast.Lt()], [ast.Constant(0)]),
                       [ast.Return(ast.Constant(rule.index))], []),
                ast.Assign([ast.Subscript(_name("r"), ast.Constant(rule.index), ast.Store())],
                           _name("_x"))]
            code = [ast.If(when[0], chain, [])] if when else chain
        elif traced:
            chain = [ast.Return(ast.Constant(rule.index))]
            for position in range(len(rule.conjuncts) - 1, skip - 1, -1):
                record = ast.Assign([ast.Subscript(_name("r"), ast.Constant(rule.index),
                                                   ast.Store())], ast.Constant(position))
                negated = ast.UnaryOp(ast.Not(), tests[position - skip])
                chain = [ast.If(negated, [record], chain)]
            if when:
                chain = [ast.If(when[0], chain, [])]
            code = chain
        else:
            done: ast.stmt = ast.Return(self.result(rule))
            tests = when + tests
            if not tests:
                code = [done]
            else:
                test: ast.expr = tests[0] if len(tests) == 1 else ast.BoolOp(ast.And(), tests)
                code = [ast.If(test, [done], [])]
        return [at(s, rule.line) for s in code], not tests and not when

    def ending(self, traced: bool) -> list[ast.stmt]:
        policy = self.policy
        decides = policy.refusal is None and policy.otherwise is not None
        line = policy.otherwise.line if policy.otherwise is not None else (
            policy.refusal.line if policy.refusal is not None else 1)
        if traced:
            last: ast.stmt = ast.Return(ast.Constant(
                policy.otherwise.index if decides and policy.otherwise else -1))
        elif decides and policy.otherwise is not None:
            last = ast.Return(self.result(policy.otherwise))
        else:
            last = ast.Return(_call("_refuse"))
        return [at(last, line)]

    def dispatch(self, index: Index, traced: bool) -> list[ast.stmt]:
        """Looks up the function for the fact's value, calls it, and returns what it decided."""
        made: dict[tuple[int, ...], str] = {}
        untested, buckets = index.buckets()
        default = self.bucket(index, untested, traced, made)
        table = {value: self.bucket(index, candidates, traced, made)
                 for value, candidates in buckets.items()}
        lookup = self.gen.constant_object(Dispatch(index.fact, table))
        assert isinstance(lookup, ast.Name)
        fact = ast.Subscript(_name("f"), ast.Constant(index.fact), ast.Load())
        args = [_name("f"), _name("r")] if traced else [_name("f")]
        found: ast.expr = (ast.Compare(_name("_x"), [ast.GtE()], [ast.Constant(0)]) if traced
                           else ast.Compare(_name("_x"), [ast.IsNot()], [ast.Constant(None)]))
        code: list[ast.stmt] = [
            ast.Assign([ast.Name("_x", ast.Store())], _call(lookup.id, fact, _name(default))),
            ast.Assign([ast.Name("_x", ast.Store())], _call("_x", *args)),
            ast.If(found, [ast.Return(_name("_x"))], []),
        ]
        return [at(s, index.rules[0].line) for s in code]

    def bucket(self, index: Index, candidates: tuple[CheckedRule, ...], traced: bool,
               made: dict[tuple[int, ...], str]) -> str:
        """The function trying the candidates for one value (shared by values with the same)."""
        shape = tuple(r.index for r in candidates)
        if shape in made:
            return made[shape]
        name = f"_{'tb' if traced else 'b'}{self.buckets}"
        self.buckets += 1
        made[shape] = name
        outer = (self.gen.used, self._today)
        skip = frozenset(r.index for r in candidates if r.index in index.keys)
        miss: ast.stmt = ast.Return(ast.Constant(-1 if traced else None))
        line = candidates[0].line if candidates else index.rules[0].line
        body = self.body(lambda: self.sequence(candidates, traced, skip) + [at(miss, line)],
                         line)
        self.gen.used, self._today = outer
        self.functions.append(function(name, body, line, ("f", "r") if traced else ("f",)))
        return name


class _Positional(ast.NodeTransformer):
    """Reads `f['name']` from the parameter of that fact instead; notes any other use of `f`."""

    def __init__(self, params: dict[str, str]) -> None:
        self.params = params
        self.other = False

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        slice_ = node.slice
        if (isinstance(node.value, ast.Name) and node.value.id == "f"
                and isinstance(slice_, ast.Constant) and slice_.value in self.params
                and isinstance(node.ctx, ast.Load)):
            return ast.copy_location(ast.Name(self.params[slice_.value], ast.Load()), node)
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == "f":
            self.other = True
        return node


def positional(decide: ast.FunctionDef, params: dict[str, str]) -> ast.Try | None:
    """The body of `_decide` rewritten to read each fact from a local (`params`: fact ->
    local name) instead of the dict `f`.

    Only the general path's handler still needs the dict of facts, which it builds from the
    locals. None when the decision uses the dict of facts in any other way.
    """
    body = decide.body
    if len(body) != 1 or not isinstance(body[0], ast.Try) or len(body[0].handlers) != 1:
        return None  # derived values set up before the `try`: they read the dict
    guarded = body[0]
    rewrite = _Positional(params)
    statements = [rewrite.visit(statement) for statement in guarded.body]
    if rewrite.other:
        return None
    facts = ast.Dict([ast.Constant(fact) for fact in params],
                     [ast.Name(local, ast.Load()) for local in params.values()])
    handler = ast.ExceptHandler(guarded.handlers[0].type, None,
                                [ast.Return(_call("_slow", facts))])
    return ast.Try(statements, [handler], [], [])
