"""Formatter: prints a policy in one canonical layout, keeping every comment.

The layout is a pure function of the syntax tree, so formatting twice changes nothing, and a
formatted policy parses to the same tree. Comments are kept: a comment is printed on its own
line before the declaration it was written in or before, and a comment at the end of a
declaration's last line stays at the end of that line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from policy_engine.core.source import Source
from policy_engine.core.visitor import Visitor
from policy_engine.language import nodes as n
from policy_engine.language.parser import parse_policy

WIDTH = 96
INDENT = "  "

# Binding strength, loosest first; a child that binds more loosely than its parent is
# parenthesised.
_CONDITIONAL, _OR, _AND, _NOT, _TEST, _SUM, _PRODUCT, _UNARY, _ATOM = range(9)


#: A quoted text (whose `#` is no comment) or a comment, as the grammar's STRING and COMMENT.
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"|#[^\n]*')


def comments_of(text: str) -> list[tuple[int, str]]:
    """The comments of a policy text that parses, as (offset, text without trailing blanks).

    Outside quoted texts a `#` always starts a comment that runs to the end of the line, and a
    quoted text never spans lines, so one scan finds exactly the comments Lark's lexer skips.
    """
    return [(match.start(), match.group().rstrip())
            for match in _STRING_OR_COMMENT.finditer(text) if match.group().startswith("#")]


def format_policy(text: str, name: str = "<policy>") -> str:
    """Returns the canonical layout of a policy.

    Raises:
        DiagnosticError: the text does not parse (formatting never guesses).
    """
    tree = parse_policy(Source(name, text))
    return _Printer(comments_of(text), text).file(tree)


# ---------------------------------------------------------------- expressions


def _quote(text: str) -> str:
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\t", "\\t"))
    return f'"{escaped}"'


class _Expr(Visitor[tuple[str, int]]):
    """Prints an expression and reports how tightly it binds."""

    def text(self, node: n.Expr, context: int = _CONDITIONAL, right: bool = False) -> str:
        printed, strength = self.visit(node)
        if strength < context or (right and strength == context and context >= _SUM):
            return f"({printed})"
        return printed

    def visit_Name(self, node: n.Name) -> tuple[str, int]:
        return node.name, _ATOM

    def visit_Number(self, node: n.Number) -> tuple[str, int]:
        return node.text, _ATOM

    def visit_Text(self, node: n.Text) -> tuple[str, int]:
        return _quote(node.value), _ATOM

    def visit_DateLit(self, node: n.DateLit) -> tuple[str, int]:
        return node.value, _ATOM

    def visit_Bool(self, node: n.Bool) -> tuple[str, int]:
        return ("yes" if node.value else "no"), _ATOM

    def visit_Duration(self, node: n.Duration) -> tuple[str, int]:
        return node.text, _ATOM

    def visit_Months(self, node: n.Months) -> tuple[str, int]:
        return node.text, _ATOM

    def visit_ListLit(self, node: n.ListLit) -> tuple[str, int]:
        return "[" + ", ".join(self.text(item) for item in node.items) + "]", _ATOM

    def visit_Unary(self, node: n.Unary) -> tuple[str, int]:
        if node.op == "not":
            return f"not {self.text(node.operand, _NOT)}", _NOT
        return f"-{self.text(node.operand, _UNARY)}", _UNARY

    def visit_Logic(self, node: n.Logic) -> tuple[str, int]:
        strength = _OR if node.op == "or" else _AND
        # A nested and/or keeps its parentheses, so the tree stays exactly the same; an 'and'
        # inside an 'or' gets them too, since people misread that precedence.
        parts = [f"({self.text(operand)})" if isinstance(operand, n.Logic)
                 else self.text(operand, strength + 1) for operand in node.operands]
        return f" {node.op} ".join(parts), strength

    def visit_Binary(self, node: n.Binary) -> tuple[str, int]:
        if node.op in ("+", "-"):
            strength = _SUM
        elif node.op in ("*", "/"):
            strength = _PRODUCT
        else:
            left = self.text(node.left, _SUM)
            return f"{left} {node.op} {self.text(node.right, _SUM)}", _TEST
        left = self.text(node.left, strength)
        return f"{left} {node.op} {self.text(node.right, strength, right=True)}", strength

    def visit_Is(self, node: n.Is) -> tuple[str, int]:
        word = "is not" if node.negated else "is"
        return f"{self.text(node.subject, _SUM)} {word} {self.text(node.value, _ATOM)}", _TEST

    def visit_In(self, node: n.In) -> tuple[str, int]:
        word = "not in" if node.negated else "in"
        return f"{self.text(node.subject, _SUM)} {word} {self.text(node.options, _ATOM)}", _TEST

    def visit_Contains(self, node: n.Contains) -> tuple[str, int]:
        return f"{self.text(node.subject, _SUM)} contains {self.text(node.item, _SUM)}", _TEST

    def visit_Presence(self, node: n.Presence) -> tuple[str, int]:
        word = "is present" if node.present else "is missing"
        return f"{self.text(node.subject, _SUM)} {word}", _TEST

    def visit_Between(self, node: n.Between) -> tuple[str, int]:
        return (f"{self.text(node.subject, _SUM)} between {self.text(node.low, _SUM)} and "
                f"{self.text(node.high, _SUM)}"), _TEST

    def visit_Lookup(self, node: n.Lookup) -> tuple[str, int]:
        return f"{node.table.name} for {self.text(node.key, _ATOM)}", _ATOM

    def visit_Call(self, node: n.Call) -> tuple[str, int]:
        args = ", ".join(self.text(arg) for arg in node.args)
        return f"{node.function.name}({args})", _ATOM

    def plain(self, node: n.Expr) -> str:
        """Operands of `working days from ... to ...`: a name or literal, else parenthesised."""
        if isinstance(node, (n.Name, n.DateLit, n.Text, n.ListLit)):
            return self.text(node)
        return f"({self.text(node)})"

    def visit_WorkingDays(self, node: n.WorkingDays) -> tuple[str, int]:
        text = f"working days from {self.plain(node.start)} to {self.plain(node.end)}"
        if node.excluding is not None:
            text += f" excluding {self.plain(node.excluding)}"
        if node.calendar is not None:
            text += f" calendar {self.plain(node.calendar)}"
        return text, _ATOM

    def visit_Conditional(self, node: n.Conditional) -> tuple[str, int]:
        return (f"if {self.text(node.test)} then {self.text(node.then)} else "
                f"{self.text(node.otherwise)}"), _CONDITIONAL


_EXPR = _Expr()


def _type(ref: n.TypeRef) -> str:
    if ref.kind == "bool":
        return "yes/no"
    if ref.kind in ("text", "date"):
        return ref.kind
    if ref.kind == "enum":
        return "one of " + ", ".join(v.name for v in ref.values)
    if ref.kind == "list":
        assert ref.element is not None
        return "list of " + _type(ref.element)
    words = "whole number" if ref.kind == "whole" else "amount"
    low, high = ref.minimum, ref.maximum
    if low is not None and high is not None:
        return f"{words} from {low.text} to {high.text}"
    if low is not None:
        return f"{words} at least {low.text}"
    if high is not None:
        return f"{words} at most {high.text}"
    return words


def _broken(expr: n.Expr, prefix: str, indent: str) -> list[str]:
    """Prints a condition after `prefix`, one operand of a long and/or per line; operands that
    are and/or themselves break inside their parentheses, aligned after them."""
    text = prefix + _EXPR.text(expr)
    if len(text) <= WIDTH or not isinstance(expr, n.Logic):
        return [text]
    lines: list[str] = []
    strength = _OR if expr.op == "or" else _AND
    for index, operand in enumerate(expr.operands):
        lead = prefix if index == 0 else f"{indent}{expr.op} "
        if isinstance(operand, n.Logic):
            inner = _broken(operand, lead + "(", " " * len(lead + "("))
            inner[-1] += ")"
            lines += inner
        else:
            lines.append(lead + _EXPR.text(operand, strength + 1))
    return lines


def _fill(text: str, first: str, rest: str) -> list[str]:
    """Breaks a long comma-separated text into lines no wider than WIDTH, at the commas."""
    words = text.split(", ")
    lines: list[str] = []
    current = first
    for index, word in enumerate(words):
        piece = word + ("," if index < len(words) - 1 else "")
        if current.strip() and len(current) + 1 + len(piece) > WIDTH:
            lines.append(current.rstrip())
            current = rest + piece
        else:
            current = current + (" " if current.strip() else "") + piece
    lines.append(current.rstrip())
    return lines


def _effective(node: n.Effective) -> str:
    if node.start and node.end:
        return f"effective from {node.start.value} until {node.end.value}"
    if node.start:
        return f"effective from {node.start.value}"
    assert node.end is not None
    return f"effective until {node.end.value}"


def _reason(text: n.Text, judgment: bool) -> str:
    """A `because` text, with its `(judgment)` marker."""
    return _quote(text.value) + (" (judgment)" if judgment else "")


def _title(text: str | None) -> str:
    return "" if text is None else " " + _quote(text)


# ---------------------------------------------------------------- declarations


class _Printer:
    def __init__(self, comments: list[tuple[int, str]], text: str) -> None:
        self.comments = sorted(comments)
        self.text = text

    def trailing(self, end: int) -> list[str]:
        """Comments written at the end of an item's last line stay with that item."""
        newline = self.text.find("\n", end)
        return self.comments_before(len(self.text) if newline < 0 else newline)

    def comments_before(self, offset: int) -> list[str]:
        taken = [text for at, text in self.comments if at < offset]
        self.comments = [(at, text) for at, text in self.comments if at >= offset]
        return taken

    def file(self, tree: n.PolicyFile) -> str:
        blocks: list[list[str]] = []
        header = tree.header
        opening = self.comments_before(header.span.start)
        if opening:  # the file's opening comment stands apart from the header
            blocks.append(opening)
        # Comments on the `policy` line stay at its end, as an item's do (see `trailing`).
        first_line = self.text.find("\n", header.span.start)
        on_first_line = self.comments_before(len(self.text) if first_line < 0 else first_line)
        lines = [f"policy {header.name.name}{_title(header.title)}"]
        lines[-1] += "".join("  " + text for text in on_first_line)
        lines += self.comments_before(header.span.end)
        if header.version is not None:
            lines.append(f"version {_quote(header.version)}")
        if header.document is not None:
            lines.append(f"source document {_quote(header.document.value)}")
        if header.version is not None or header.document is not None:
            lines[-1] += "".join("  " + text for text in self.trailing(header.span.end))
        blocks.append(lines)
        previous: type | None = None
        for item in tree.items:
            comments = self.comments_before(item.span.end)
            printed = self.item(item)
            trailing = self.trailing(item.span.end)
            if trailing:
                # A comment at the end of an item's last line stays at the end of its last
                # line: on a line of its own it would read, next time, as the comment of the
                # item after it, and formatting twice would not give the same text.
                printed[-1] += "  " + "  ".join(trailing)
            # Declarations of one kind stay together; rules and other blocks stand apart.
            grouped = isinstance(item, (n.FactDecl, n.DecisionDecl, n.OutputDecl)) and \
                type(item) is previous and not comments
            if grouped:
                blocks[-1].extend(printed)
            else:
                blocks.append(comments + printed)
            previous = type(item)
        trailing = [text for _, text in self.comments]
        if trailing:
            blocks.append(trailing)
        return "\n\n".join("\n".join(block) for block in blocks) + "\n"

    def item(self, item: n.Item) -> list[str]:
        method = getattr(self, "item_" + type(item).__name__)
        return method(item)  # type: ignore[no-any-return]

    @staticmethod
    def wrap(head: str, tail: str) -> list[str]:
        if len(head) + 1 + len(tail) <= WIDTH:
            return [f"{head} {tail}"]
        return [head] + _fill(tail, INDENT, INDENT * 2)

    def item_FactDecl(self, item: n.FactDecl) -> list[str]:
        type_text = ("optional " if item.optional else "") + _type(item.type)
        if item.default is not None:
            type_text += f" default {_EXPR.text(item.default)}"
        return self.wrap(f"fact {item.name.name}{_title(item.description)}:", type_text)

    def item_DecisionDecl(self, item: n.DecisionDecl) -> list[str]:
        return [f"decision {item.name.name}{_title(item.description)}"]

    def item_OutputDecl(self, item: n.OutputDecl) -> list[str]:
        return self.wrap(f"output {item.name.name}{_title(item.description)}:", _type(item.type))

    def item_Resolve(self, item: n.Resolve) -> list[str]:
        return [f"resolve {item.strategy}"]

    def item_AsOf(self, item: n.AsOf) -> list[str]:
        return [f"as of {item.fact.name}"]

    def item_Define(self, item: n.Define) -> list[str]:
        return self.wrap(f"define {item.name.name}{_title(item.description)} =",
                         _EXPR.text(item.value))

    def item_Table(self, item: n.Table) -> list[str]:
        head = f"table {item.name.name}{_title(item.description)}"
        keyed = f"by {item.key.name}: {_type(item.type)}"
        if len(head) + 1 + len(keyed) <= WIDTH:
            lines = [f"{head} {keyed}"]
        else:
            lines = [head, INDENT * 2 + keyed]
        for row in item.rows:
            keys = ", ".join(k.name for k in row.keys) if row.keys else "default"
            text = f"{INDENT}{keys} = {_EXPR.text(row.value)}"
            if row.effective is not None:
                text += " " + _effective(row.effective)
            lines.append(text)
        lines.append("end")
        return lines

    def item_Require(self, item: n.Require) -> list[str]:
        lines = [f"require {', '.join(f.name for f in item.facts)}"]
        lines += self.clauses(item.when, item.label, item.reason)
        return lines

    def item_Ensure(self, item: n.Ensure) -> list[str]:
        lines = [f"ensure {_EXPR.text(item.condition)}"]
        lines += self.clauses(item.when, item.label, item.reason)
        return lines

    def clauses(self, when: n.Expr | None, label: str | None, reason: str | None) -> list[str]:
        lines = []
        if when is not None:
            lines += self.condition("when", when)
        if label is not None:
            lines.append(f"{INDENT}else {label}")
        if reason is not None:
            lines.append(f"{INDENT}because {_quote(reason)}")
        return lines

    def condition(self, keyword: str, expr: n.Expr) -> list[str]:
        """`when A and B`, broken before each `and`/`or` when it does not fit a line."""
        return _broken(expr, f"{INDENT}{keyword} ", INDENT * 2)

    def outputs(self, decision: str, outputs: tuple[n.Assignment, ...]) -> list[str]:
        if not outputs:
            return [f"{INDENT}then {decision}"]
        assignments = [f"{a.output.name} = {_EXPR.text(a.value)}" for a in outputs]
        one_line = f"{INDENT}then {decision} with {', '.join(assignments)}"
        if len(one_line) <= WIDTH:
            return [one_line]
        lines = [f"{INDENT}then {decision}"]
        for index, assignment in enumerate(assignments):
            lead = "with " if index == 0 else "     "
            comma = "," if index < len(assignments) - 1 else ""
            lines.append(f"{INDENT * 2}{lead}{assignment}{comma}")
        return lines

    def item_Rule(self, item: n.Rule) -> list[str]:
        head = f"rule {item.id.name}{_title(item.title)}"
        if item.overrides:
            head += " overrides " + ", ".join(o.name for o in item.overrides)
        lines = [head]
        if item.effective is not None:
            lines.append(INDENT + _effective(item.effective))
        lines += self.condition("when", item.condition)
        lines += self.outputs(item.decision.name, item.outputs)
        lines.append(f"{INDENT}because {_reason(item.reason, item.judgment)}")
        if item.citation is not None:
            lines.append(f"{INDENT}source {_quote(item.citation.value)}")
        return lines

    def item_Advisory(self, item: n.Advisory) -> list[str]:
        lines = [f"advise {item.id.name}{_title(item.title)}"]
        if item.effective is not None:
            lines.append(INDENT + _effective(item.effective))
        lines += self.condition("when", item.condition)
        items = ", ".join(_EXPR.text(i) for i in item.items)
        lines.append(f"{INDENT}then add {items} to {item.output.name}")
        lines.append(f"{INDENT}because {_reason(item.reason, item.judgment)}")
        if item.citation is not None:
            lines.append(f"{INDENT}source {_quote(item.citation.value)}")
        return lines

    def item_Otherwise(self, item: n.Otherwise) -> list[str]:
        if item.decision is None:
            lines = ["otherwise refuse"]
            if item.label is not None:
                lines.append(f"{INDENT}else {item.label}")
        else:
            lines = ["otherwise " + self.outputs(item.decision.name, item.outputs)[0].strip()
                     [len("then "):]]
            if len(item.outputs) and len(lines[0]) > WIDTH:
                lines = [f"otherwise {item.decision.name}"] + self.outputs(
                    item.decision.name, item.outputs)[1:]
        if item.reason is not None:
            reason = f"because {_reason(item.reason, item.judgment)}"
            if len(lines) == 1 and len(lines[0]) + 1 + len(reason) <= WIDTH:
                lines[0] += " " + reason  # a short default reads best on one line
            else:
                lines.append(INDENT + reason)
        if item.citation is not None:
            lines.append(f"{INDENT}source {_quote(item.citation.value)}")
        return lines


def iter_changes(old: str, new: str, name: str) -> Iterator[str]:
    """A unified diff from the file as written to its formatted layout."""

    yield from difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                    f"{name} (as written)", f"{name} (formatted)")
