"""Index: every declared name of a policy and every place a name is written, with what it means.

It reads nodes (whatever `recovery` could parse), not the checked policy, so it answers while
the text has errors. A bare name in an expression means what the checker makes of it: an
enumeration value where the other side of a comparison (or the output, the table, the list)
expects an enumeration holding that name, else the fact or derived value of that name.
`tests/lsp/test_index.py` holds it to the checker's reading on every shipped policy.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

from policy_engine.core.source import Span
from policy_engine.language import nodes as n

#: The kinds of names: a fact, a derived value, a decision, an output, a table, a rule (or
#: advisory), or a value of an enumeration.
FACT, DEFINE, DECISION, OUTPUT, TABLE, RULE, VALUE = (
    "fact", "define", "decision", "output", "table", "rule", "value")

Declaration = (n.FactDecl | n.Define | n.DecisionDecl | n.OutputDecl | n.Table | n.Rule
               | n.Advisory)


@dataclass(frozen=True)
class Occurrence:
    """A name written in the policy.

    Args:
        kind: what the name stands for (FACT, DEFINE, ...).
        name: the name.
        span: where it is written.
        declaration: True where the name is declared (`fact NAME`), False where it is used.
        owner: for a VALUE, the fact, output or table whose enumeration declares it.
    """

    kind: str
    name: str
    span: Span
    declaration: bool = False
    owner: str | None = None

    @property
    def key(self) -> tuple[str, str, str | None]:
        """What the name means: occurrences with the same key are one symbol."""
        return self.kind, self.name, self.owner


@dataclass(frozen=True)
class Typed:
    """An enumeration (or a list of one) that a place expects, and who declared it."""

    ref: n.TypeRef
    owner: str

    def values(self) -> tuple[n.Name, ...]:
        ref = self.ref.element if self.ref.kind == "list" and self.ref.element else self.ref
        return ref.values if ref.kind == "enum" else ()

    def element(self) -> Typed | None:
        if self.ref.kind == "list" and self.ref.element is not None:
            return Typed(self.ref.element, self.owner)
        return None


@dataclass
class Index:
    """The names of one policy tree.

    Attributes:
        declarations: each declared (kind, name) and its declaration nodes, in text order
            (a rule id may be declared more than once: its versions).
        occurrences: every occurrence, in text order.
    """

    tree: n.PolicyFile
    declarations: dict[tuple[str, str], list[Declaration]] = field(default_factory=dict)
    occurrences: list[Occurrence] = field(default_factory=list)
    types: dict[str, Typed] = field(default_factory=dict)  # facts, outputs, tables, defines

    def at(self, offset: int) -> Occurrence | None:
        """The occurrence whose name holds the offset, or ends at it (the cursor after a
        name still points at it)."""
        starts = [o.span.start for o in self.occurrences]
        index = bisect.bisect_right(starts, offset) - 1
        for candidate in self.occurrences[max(0, index - 1): index + 1][::-1]:
            if candidate.span.start <= offset <= candidate.span.end:
                return candidate
        return None

    def of(self, key: tuple[str, str, str | None]) -> list[Occurrence]:
        return [o for o in self.occurrences if o.key == key]

    def declared(self, kind: str, name: str) -> list[Declaration]:
        return self.declarations.get((kind, name), [])

    def names(self, *kinds: str) -> list[str]:
        return [name for kind, name in self.declarations if kind in kinds]

    def facts(self) -> Iterator[n.FactDecl]:
        for item in self.tree.items:
            if isinstance(item, n.FactDecl):
                yield item

    def expected(self, name: str) -> Typed | None:
        """The enumeration a fact, derived value, output or table holds, if it holds one."""
        return self.types.get(name)


def build(tree: n.PolicyFile) -> Index:
    """Indexes a policy tree (possibly with declarations left out by recovery)."""
    index = Index(tree)
    _Declarations(index).run()
    _References(index).run()
    index.occurrences.sort(key=lambda o: (o.span.start, o.span.end))
    return index


class _Declarations:
    """The first pass: who is declared, and the types the second pass needs."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def declare(self, kind: str, name: n.Name, node: Declaration) -> None:
        self.index.declarations.setdefault((kind, name.name), []).append(node)
        self.index.occurrences.append(Occurrence(kind, name.name, name.span, True))

    def run(self) -> None:
        index = self.index
        for item in index.tree.items:
            if isinstance(item, n.FactDecl):
                self.declare(FACT, item.name, item)
                self.values(item.type, item.name.name)
                index.types.setdefault(item.name.name, Typed(item.type, item.name.name))
            elif isinstance(item, n.DecisionDecl):
                self.declare(DECISION, item.name, item)
            elif isinstance(item, n.OutputDecl):
                self.declare(OUTPUT, item.name, item)
                self.values(item.type, item.name.name)
                index.types.setdefault(item.name.name, Typed(item.type, item.name.name))
            elif isinstance(item, n.Define):
                self.declare(DEFINE, item.name, item)
            elif isinstance(item, n.Table):
                self.declare(TABLE, item.name, item)
                self.values(item.type, item.name.name)
                index.types.setdefault(item.name.name, Typed(item.type, item.name.name))
            elif isinstance(item, (n.Rule, n.Advisory)):
                self.declare(RULE, item.id, item)
        # A derived value holds an enumeration when its definition plainly does.
        for item in index.tree.items:
            if isinstance(item, n.Define) and item.name.name not in index.types:
                typed = _type_of(index, item.value)
                if typed is not None:
                    index.types[item.name.name] = typed

    def values(self, ref: n.TypeRef, owner: str) -> None:
        if ref.element is not None:
            self.values(ref.element, owner)
        for value in ref.values:
            self.index.occurrences.append(Occurrence(VALUE, value.name, value.span, True, owner))


def _type_of(index: Index, expr: n.Expr) -> Typed | None:
    """The enumeration an expression plainly holds: a name's, a lookup's, a conditional's."""
    if isinstance(expr, n.Name):
        return index.types.get(expr.name)
    if isinstance(expr, n.Lookup):
        return index.types.get(expr.table.name)
    if isinstance(expr, n.Conditional):
        return _type_of(index, expr.then) or _type_of(index, expr.otherwise)
    return None


class _References:
    """The second pass: every name used, resolved as the checker resolves it."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.known = {name for kind, name in index.declarations if kind in (FACT, DEFINE)}

    def add(self, kind: str, name: n.Name, owner: str | None = None) -> None:
        self.index.occurrences.append(Occurrence(kind, name.name, name.span, False, owner))

    def run(self) -> None:
        index = self.index
        for item in index.tree.items:
            if isinstance(item, n.FactDecl) and item.default is not None:
                self.expr(item.default, index.types.get(item.name.name))
            elif isinstance(item, n.AsOf):
                self.add(FACT, item.fact)
            elif isinstance(item, n.Define):
                self.expr(item.value, None)
            elif isinstance(item, n.Table):
                self.add(FACT, item.key)
                key = index.types.get(item.key.name)
                for row in item.rows:
                    for value in row.keys:
                        self.add(VALUE, value, key.owner if key else None)
                    self.expr(row.value, index.types.get(item.name.name))
            elif isinstance(item, n.Require):
                for fact in item.facts:
                    self.add(FACT, fact)
                self.optional(item.when)
            elif isinstance(item, n.Ensure):
                self.expr(item.condition, None)
                self.optional(item.when)
            elif isinstance(item, n.Rule):
                for target in item.overrides:
                    self.add(RULE, target)
                self.expr(item.condition, None)
                self.add(DECISION, item.decision)
                self.assignments(item.outputs)
            elif isinstance(item, n.Advisory):
                self.expr(item.condition, None)
                output = index.types.get(item.output.name)
                for added in item.items:
                    self.expr(added, output.element() if output else None)
                self.add(OUTPUT, item.output)
            elif isinstance(item, n.Otherwise):
                if item.decision is not None:
                    self.add(DECISION, item.decision)
                self.assignments(item.outputs)

    def optional(self, expr: n.Expr | None) -> None:
        if expr is not None:
            self.expr(expr, None)

    def assignments(self, outputs: tuple[n.Assignment, ...]) -> None:
        for assignment in outputs:
            self.add(OUTPUT, assignment.output)
            self.expr(assignment.value, self.index.types.get(assignment.output.name))

    def bare(self, expr: n.Expr) -> bool:
        """A name that is no fact or derived value (a value, when the other side says so)."""
        if isinstance(expr, n.ListLit):
            return bool(expr.items) and all(self.bare(item) for item in expr.items)
        return isinstance(expr, n.Name) and expr.name not in self.known

    def pair(self, left: n.Expr, right: n.Expr) -> None:
        """Two sides of a comparison: a fact on either side gives a bare value its type."""
        if self.bare(left) and not self.bare(right):
            self.expr(right, None)
            self.expr(left, _type_of(self.index, right))
            return
        self.expr(left, None)
        self.expr(right, _type_of(self.index, left))

    def expr(self, node: n.Expr, expect: Typed | None) -> None:
        if isinstance(node, n.Name):
            self.name(node, expect)
        elif isinstance(node, n.ListLit):
            element = expect.element() if expect else None
            for item in node.items:
                self.expr(item, element if element is not None else expect)
        elif isinstance(node, n.Conditional):
            self.expr(node.test, None)
            self.expr(node.then, expect)
            self.expr(node.otherwise, expect or _type_of(self.index, node.then))
        elif isinstance(node, n.Is):
            self.pair(node.subject, node.value)
        elif isinstance(node, n.Binary):
            if node.op in ("==", "!="):
                self.pair(node.left, node.right)
            else:
                self.expr(node.left, None)
                self.expr(node.right, None)
        elif isinstance(node, n.In):
            self.member(node)
        elif isinstance(node, n.Contains):
            self.expr(node.subject, None)
            typed = _type_of(self.index, node.subject)
            self.expr(node.item, typed.element() if typed else None)
        elif isinstance(node, n.Lookup):
            self.add(TABLE, node.table)
            table = self.index.declared(TABLE, node.table.name)
            key = table[0].key.name if table and isinstance(table[0], n.Table) else None
            self.expr(node.key, self.index.types.get(key) if key else None)
        else:
            for child in _children(node):
                self.expr(child, None)

    def member(self, node: n.In) -> None:
        if isinstance(node.subject, n.Name) and node.subject.name not in self.known and \
                isinstance(node.options, n.Name) and node.options.name in self.known:
            self.expr(node.options, None)
            typed = _type_of(self.index, node.options)
            self.expr(node.subject, typed.element() if typed else None)
            return
        self.expr(node.subject, None)
        typed = _type_of(self.index, node.subject)
        self.expr(node.options, typed)

    def name(self, node: n.Name, expect: Typed | None) -> None:
        if expect is not None and node.name in {v.name for v in expect.values()}:
            self.add(VALUE, node, expect.owner)
        elif node.name in self.known:
            kind = FACT if self.index.declared(FACT, node.name) else DEFINE
            self.add(kind, node)
        elif self.index.declared(TABLE, node.name):
            self.add(TABLE, node)
        else:
            owner = next((t.owner for t in self.index.types.values()
                          if node.name in {v.name for v in t.values()}), None)
            if owner is not None:
                self.add(VALUE, node, owner)


def _children(node: n.Expr) -> Iterator[n.Expr]:
    """The sub-expressions of the nodes `_References.expr` does not look into itself."""
    if isinstance(node, n.Unary):
        yield node.operand
    elif isinstance(node, n.Logic):
        yield from node.operands
    elif isinstance(node, n.Presence):
        yield node.subject
    elif isinstance(node, n.Between):
        yield from (node.subject, node.low, node.high)
    elif isinstance(node, n.Call):
        yield from node.args
    elif isinstance(node, n.WorkingDays):
        yield from (e for e in (node.start, node.end, node.excluding, node.calendar)
                    if e is not None)
