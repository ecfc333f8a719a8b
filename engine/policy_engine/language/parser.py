"""Parser: the hand-written recursive-descent parser that reads policy text straight into nodes.

`parse_policy` here is how the engine parses a policy. Lark's LALR parser (`reference_parser`,
grammar in `grammar/policy.lark`) is the reference: it defines the language and words every
syntax error. It is written in pure Python, though, and
with lowering it spends about 0.75 ms on each rule of a large policy, most of the load time of
a policy of 10,000 rules. This module reads the same language about seven times faster, in
one pass over the tokens, without a parse tree.

It only ever answers "here are the nodes" or "not sure". On anything unusual (a syntax error,
a keyword where a name could also be, a bad escape, very deep nesting) it raises `_Unsure`,
and `parse_policy` parses the text again with Lark, which then gives the nodes or the error.
So this parser must never accept text Lark rejects, nor build different nodes or spans;
`tests/language/test_parser_equivalence.py` holds the two to that on every policy in the
repository and on random mutations of them.

How Lark reads words matters here. Its lexer is contextual: a keyword such as `amount` or
`date` is a name wherever the grammar does not allow the keyword, and a keyword wherever it
does. This parser knows, at each place it reads a name, which keywords the grammar allows
there too; when the word is one of them and the parser is not certain which reading Lark
takes, it is unsure. Words are read whole: a keyword run together with more letters is a
longer word here, and an error there (`reference_parser.glued_keyword`).

Spans follow Lark's `propagate_positions`: a node spans from its first to its last token, and
an expression in parentheses keeps its own span while the node around it counts the
parentheses (Lark's "container" positions).
"""

from __future__ import annotations

import itertools
import operator
import re
import string
from collections.abc import Callable
from typing import TypeVar

from policy_engine.core.source import Source, Span
from policy_engine.language import nodes as n
from policy_engine.language.grammar import KEYWORDS
from policy_engine.language.literals import (
    UNITS,
    BadEscape,
    duration_days,
    duration_months,
    months_text,
    number_problem,
    number_value,
    unescape,
)

#: One token and the blanks and comments before it. Words are read whole; which are keywords
#: is up to the parser. The terminals are those of grammar/policy.lark, DATE before NUMBER. A
#: comment runs to the end of its line: without the lookahead, a comment at the very end of the
#: text would give back its last characters as a token (`policy # TODO: write the rules` read
#: as the policy `s`). Blanks and comments at the end of the text come with an empty token.
#: Blanks are read as runs of white space between comments, and words are tried first (the
#: alternatives start with different characters, so their order only sets the speed).
_TOKEN = re.compile(r"""
    ([ \t\f\r\n]*(?:\#[^\n]*(?![^\n])[ \t\f\r\n]*)*)
    ( [A-Za-z_][A-Za-z0-9_]*
    | "(?:[^"\\\n]|\\[^\n])*"
    | [0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9])
    | [0-9]+(?:\.[0-9]+)?(?![0-9A-Za-z_])
    | ==|!=|<=|>=|<|>|[-+*/=:,()\[\]]
    | \Z
    )
  | (.)  # anything else: no character is skipped, so positions add up
""", re.VERBOSE)
#: The kind of a token by its first character; punctuation is its own kind.
_KIND = {"\"": "string",
         **dict.fromkeys(string.ascii_letters + "_", "word"),
         **dict.fromkeys(string.digits, "digits")}

_FIRST, _SECOND, _THIRD = operator.itemgetter(0), operator.itemgetter(1), operator.itemgetter(2)

#: Keywords that can begin an operand (or a negation): where a name is read as an operand,
#: these words are taken as keywords, or, where the grammar does not allow them, not sure.
_OPERAND_WORDS = frozenset({"if", "not", "working", "yes", "true", "no", "false",
                            "missing", "present"})

_COMPARE = frozenset({"==", "!=", "<=", ">=", "<", ">"})
#: Deeper nesting than this is left to Lark and lowering, which refuse very deep trees (E006);
#: this parser counts each level generously, and Python's stack holds ten frames a level.
_MAX_DEPTH = 60


T = TypeVar("T")


class _Unsure(Exception):
    """The text is not plainly valid: Lark must read it."""


def parse_policy(source: Source) -> n.PolicyFile:
    """Parses policy text into nodes: this parser when it is sure, else Lark and lowering.

    Raises:
        DiagnosticError: for a syntax error or an invalid literal, from the reference parser.
    """
    nodes = fast_parse(source.text)
    if nodes is not None:
        return nodes
    from policy_engine.language import reference_parser  # Lark: imported only when needed

    return reference_parser.parse_policy(source)


def fast_parse(text: str) -> n.PolicyFile | None:
    """The nodes this parser builds, or None when it leaves the text to Lark (for tests)."""
    try:
        return _Parser(text).policy_file()
    except (_Unsure, RecursionError):
        return None


def _tokens(text: str) -> tuple[list[str], list[str], list[int], list[int]]:
    """Kinds, texts, starts and ends of the tokens of `text`, with an end marker."""
    found = _TOKEN.findall(text)
    while found and not found[-1][1] and not found[-1][2]:
        found.pop()  # the end of the text
    # Column by column, in C: a policy of 10,000 rules has over 200,000 tokens.
    if any(map(_THIRD, found)):
        raise _Unsure
    texts: list[str] = list(map(_SECOND, found))
    lengths = list(map(len, texts))
    ends = list(itertools.accumulate(map(operator.add, map(len, map(_FIRST, found)), lengths)))
    starts = list(map(operator.sub, ends, lengths))
    size = len(text)
    # Punctuation is its own kind; no token is empty.
    kind_of: Callable[[str, str], str] = _KIND.get
    kinds = list(map(kind_of, map(_FIRST, texts), texts))
    digits = map(operator.eq, kinds, itertools.repeat("digits"))
    for index in itertools.compress(itertools.count(), digits):
        token = texts[index]
        kinds[index] = "date" if len(token) == 10 and token[4] == "-" else "number"
    kinds.append("$end")
    texts.append("")
    starts.append(size)
    ends.append(size)
    return kinds, texts, starts, ends


def _decode(token: str) -> str:
    try:
        return unescape(token[1:-1])
    except BadEscape:
        raise _Unsure from None  # E004, worded by lowering


class _Parser:
    """One pass over the tokens; `i` is the index of the next token.

    Expression methods return (node, start, end): the node, and the positions of its
    container, which include any parentheses around it.
    """

    def __init__(self, text: str) -> None:
        self.kinds, self.texts, self.starts, self.ends = _tokens(text)
        self.i = 0
        self.depth = 0

    # ------------------------------------------------------------ tokens
    def word(self, value: str) -> bool:
        """Takes the keyword `value` if it comes next."""
        if self.kinds[self.i] == "word" and self.texts[self.i] == value:
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> int:
        """Takes the keyword or punctuation `value`; returns its start."""
        i = self.i
        if self.texts[i] != value:  # a text, number or date never reads as a keyword
            raise _Unsure
        self.i = i + 1
        return self.starts[i]

    def name(self) -> n.Name:
        """A name where the grammar allows nothing else, so any word is a name."""
        i = self.i
        if self.kinds[i] != "word":
            raise _Unsure
        self.i = i + 1
        return n.Name(self.texts[i], Span(self.starts[i], self.ends[i]))

    def string(self) -> tuple[str, int, int] | None:
        """An optional quoted text: its value, start and end."""
        i = self.i
        if self.kinds[i] != "string":
            return None
        self.i = i + 1
        return _decode(self.texts[i]), self.starts[i], self.ends[i]

    def need_string(self) -> tuple[str, int, int]:
        found = self.string()
        if found is None:
            raise _Unsure
        return found

    def last_end(self) -> int:
        return self.ends[self.i - 1]

    def separated(self, read: Callable[[], T]) -> list[T]:
        """`read` ("," `read`)*."""
        found = [read()]
        while self.kinds[self.i] == ",":
            self.i += 1
            found.append(read())
        return found

    def names(self) -> tuple[n.Name, ...]:
        """NAME ("," NAME)*, where only names can stand."""
        return tuple(self.separated(self.name))

    # ------------------------------------------------------------ file
    def policy_file(self) -> n.PolicyFile:
        header = self.header()
        items: list[n.Item] = []
        item = self.item
        while self.kinds[self.i] != "$end":
            items.append(item())
        end = items[-1].span.end if items else header.span.end
        return n.PolicyFile(header, tuple(items), Span(header.span.start, end))

    def header(self) -> n.Header:
        start = self.expect("policy")
        name = self.name()
        title = self.string()
        version = None
        if self.word("version"):
            version = self.need_string()[0]
        document = None
        if self.word("source"):
            self.expect("document")
            path, path_start, path_end = self.need_string()
            document = n.Text(path, Span(path_start, path_end))
        return n.Header(name, None if title is None else title[0], version,
                        Span(start, self.last_end()), document)

    def item(self) -> n.Item:
        i = self.i
        if self.kinds[i] != "word":
            raise _Unsure
        method = _ITEMS.get(self.texts[i])
        if method is None:
            raise _Unsure
        self.i = i + 1
        return method(self, self.starts[i])

    # ------------------------------------------------------------ declarations
    def fact_decl(self, start: int) -> n.FactDecl:
        name = self.name()
        description = self.string()
        self.expect(":")
        optional = self.word("optional")
        type_ref = self.type_ref()
        default = None
        if self.word("default"):
            default, _, _ = self.expr()
        return n.FactDecl(name, None if description is None else description[0], type_ref,
                          optional, default, Span(start, self.last_end()))

    def decision_decl(self, start: int) -> n.DecisionDecl:
        name = self.name()
        description = self.string()
        return n.DecisionDecl(name, None if description is None else description[0],
                              Span(start, self.last_end()))

    def output_decl(self, start: int) -> n.OutputDecl:
        name = self.name()
        description = self.string()
        self.expect(":")
        type_ref = self.type_ref()
        return n.OutputDecl(name, None if description is None else description[0], type_ref,
                            Span(start, self.last_end()))

    def resolve(self, start: int) -> n.Resolve:
        if self.word("first"):
            self.expect("match")
            strategy = "first match"
        elif self.word("unique"):
            strategy = "unique"
        elif self.word("agreeing"):
            strategy = "agreeing"
        else:
            raise _Unsure
        return n.Resolve(strategy, Span(start, self.last_end()))

    def as_of(self, start: int) -> n.AsOf:
        self.expect("of")
        fact = self.name()
        return n.AsOf(fact, Span(start, self.last_end()))

    def define(self, start: int) -> n.Define:
        name = self.name()
        description = self.string()
        self.expect("=")
        value, _, end = self.expr()
        return n.Define(name, None if description is None else description[0], value,
                        Span(start, end))

    def table_decl(self, start: int) -> n.Table:
        name = self.name()
        description = self.string()
        self.expect("by")
        key = self.name()
        self.expect(":")
        type_ref = self.type_ref()
        rows = [self.table_row()]
        while not self.word("end"):
            rows.append(self.table_row())
        return n.Table(name, None if description is None else description[0], key, type_ref,
                       tuple(rows), Span(start, self.last_end()))

    def table_row(self) -> n.TableRow:
        start = self.starts[self.i]
        if self.word("default"):
            keys: tuple[n.Name, ...] = ()
        else:
            # After a type or a row, words that continue an expression or start a
            # declaration could be keywords to Lark: only a plain name is sure to be a key.
            if self.texts[self.i] in KEYWORDS:
                raise _Unsure
            keys = self.names()
        self.expect("=")
        value, _, end = self.expr()
        effective = None
        if self.texts[self.i] == "effective" and self.kinds[self.i] == "word":
            effective = self.effective()
            end = effective.span.end
        return n.TableRow(keys, value, effective, Span(start, end))

    def require(self, start: int) -> n.Require:
        facts = self.names()
        return n.Require(facts, *self.constraint_tail(), Span(start, self.last_end()))

    def ensure(self, start: int) -> n.Ensure:
        condition, _, _ = self.expr()
        return n.Ensure(condition, *self.constraint_tail(), Span(start, self.last_end()))

    def constraint_tail(self) -> tuple[n.Expr | None, str | None, str | None]:
        """["when" expr] ["else" NAME] ["because" STRING]: the guard, the reason, the label."""
        when = label = reason = None
        if self.word("when"):
            when, _, _ = self.expr()
        if self.word("else"):
            label = self.name().name
        if self.word("because"):
            reason = self.need_string()[0]
        return when, reason, label

    def effective(self) -> n.Effective:
        start = self.expect("effective")
        if self.word("from"):
            first = self.date()
            until = self.date() if self.word("until") else None
            return n.Effective(first, until, Span(start, self.last_end()))
        self.expect("until")
        return n.Effective(None, self.date(), Span(start, self.last_end()))

    def date(self) -> n.DateLit:
        i = self.i
        if self.kinds[i] != "date":
            raise _Unsure
        self.i = i + 1
        return n.DateLit(self.texts[i], Span(self.starts[i], self.ends[i]))

    def rule(self, start: int) -> n.Rule:
        rule_id = self.name()
        title = self.string()
        overrides: tuple[n.Name, ...] = ()
        if self.word("overrides"):
            overrides = self.names()
        effective = self.effective() if self.texts[self.i] == "effective" else None
        self.expect("when")
        condition, _, _ = self.expr()
        self.expect("then")
        decision = self.name()
        outputs = self.with_clause()
        self.expect("because")
        reason = self.need_string()
        judgment = self.judgment()
        citation = self.citation()
        return n.Rule(rule_id, None if title is None else title[0], condition, decision,
                      outputs, n.Text(reason[0], Span(reason[1], reason[2])), citation,
                      overrides, effective, Span(start, self.last_end()), judgment)

    def advisory(self, start: int) -> n.Advisory:
        rule_id = self.name()
        title = self.string()
        effective = self.effective() if self.texts[self.i] == "effective" else None
        self.expect("when")
        condition, _, _ = self.expr()
        self.expect("then")
        self.expect("add")
        items = self.separated(self.operand)
        self.expect("to")
        output = self.name()
        self.expect("because")
        reason = self.need_string()
        judgment = self.judgment()
        citation = self.citation()
        return n.Advisory(rule_id, None if title is None else title[0], effective, condition,
                          tuple(items), output, n.Text(reason[0], Span(reason[1], reason[2])),
                          citation, Span(start, self.last_end()), judgment)

    def otherwise(self, start: int) -> n.Otherwise:
        if self.word("refuse"):
            label = self.name().name if self.word("else") else None
            reason = self.reason()
            judgment = reason is not None and self.judgment()
            citation = self.citation()
            return n.Otherwise(None, (), reason, citation, Span(start, self.last_end()), label,
                               judgment)
        decision = self.name()
        outputs = self.with_clause()
        reason = self.reason()
        judgment = reason is not None and self.judgment()
        citation = self.citation()
        return n.Otherwise(decision, outputs, reason, citation, Span(start, self.last_end()),
                           judgment=judgment)

    def reason(self) -> n.Text | None:
        if not self.word("because"):
            return None
        value, start, end = self.need_string()
        return n.Text(value, Span(start, end))

    def judgment(self) -> bool:
        """The optional marker `(judgment)` after a reason."""
        if self.kinds[self.i] != "(":
            return False
        self.i += 1
        self.expect("judgment")
        self.expect(")")
        return True

    def citation(self) -> n.Text | None:
        i = self.i
        if not self.word("source"):
            return None
        value, _, end = self.need_string()
        return n.Text(value, Span(self.starts[i], end))

    def with_clause(self) -> tuple[n.Assignment, ...]:
        if not self.word("with"):
            return ()
        return tuple(self.separated(self.assignment))

    def assignment(self) -> n.Assignment:
        output = self.name()
        self.expect("=")
        value, _, end = self.expr()
        return n.Assignment(output, value, Span(output.span.start, end))

    # ------------------------------------------------------------ types
    def type_ref(self) -> n.TypeRef:
        i = self.i
        if self.kinds[i] != "word":
            raise _Unsure
        start = self.starts[i]
        word = self.texts[i]
        self.i = i + 1
        if word == "yes":
            # the terminal "yes/no", written without spaces
            if (self.kinds[i + 1] != "/" or self.starts[i + 1] != self.ends[i]
                    or self.texts[i + 2] != "no" or self.starts[i + 2] != self.ends[i + 1]
                    or self.kinds[i + 2] != "word"):
                raise _Unsure
            self.i = i + 3
            return n.TypeRef("bool", span=Span(start, self.ends[i + 2]))
        if word == "text" or word == "date":
            return n.TypeRef(word, span=Span(start, self.ends[i]))
        if word == "whole":
            self.expect("number")
            low, high = self.bounds()
            return n.TypeRef("whole", minimum=low, maximum=high,
                             span=Span(start, self.last_end()))
        if word == "amount":
            low, high = self.bounds()
            return n.TypeRef("amount", minimum=low, maximum=high,
                             span=Span(start, self.last_end()))
        if word == "one":
            self.expect("of")
            values = self.names()
            return n.TypeRef("enum", values=values, span=Span(start, self.last_end()))
        if word == "list":
            self.expect("of")
            element = self.type_ref()
            return n.TypeRef("list", element=element, span=Span(start, element.span.end))
        raise _Unsure

    def bounds(self) -> tuple[n.Number | None, n.Number | None]:
        if self.word("from"):
            low = self.signed()
            self.expect("to")
            return low, self.signed()
        if self.word("at"):
            if self.word("most"):
                return None, self.signed()
            self.expect("least")
            low = self.signed()
            if self.word("and"):
                self.expect("at")
                self.expect("most")
                return low, self.signed()
            return low, None
        return None, None

    def signed(self) -> n.Number:
        i = self.i
        negative = self.kinds[i] == "-"
        if negative:
            i += 1
        if self.kinds[i] != "number":
            raise _Unsure
        self.i = i + 1
        text = self.texts[i]
        if number_problem(text) is not None:
            raise _Unsure  # E005, worded by lowering
        if negative:
            return n.Number(-number_value(text), "-" + text, Span(self.starts[i - 1],
                                                                    self.ends[i]))
        return n.Number(number_value(text), text, Span(self.starts[i], self.ends[i]))

    # ------------------------------------------------------------ expressions
    def expr(self) -> tuple[n.Expr, int, int]:
        """`if A then B else C`, or a disjunction."""
        self.enter()
        i = self.i
        if self.kinds[i] == "word" and self.texts[i] == "if":
            self.i = i + 1
            test, _, _ = self.expr()
            self.expect("then")
            then, _, _ = self.expr()
            self.expect("else")
            otherwise, _, end = self.expr()
            self.depth -= 1
            start = self.starts[i]
            return n.Conditional(test, then, otherwise, Span(start, end)), start, end
        found = self.logic("or", self.conjunction)
        self.depth -= 1
        return found

    def operand(self) -> n.Expr:
        """An expression in a list: its node alone."""
        return self.expr()[0]

    def conjunction(self) -> tuple[n.Expr, int, int]:
        return self.logic("and", self.negation)

    def logic(self, op: str,
              read: Callable[[], tuple[n.Expr, int, int]]) -> tuple[n.Expr, int, int]:
        """`A or B or ...` (one node, however many operands), likewise `and`."""
        first = read()
        if not (self.kinds[self.i] == "word" and self.texts[self.i] == op):
            return first
        operands = [first[0]]
        end = first[2]
        while self.kinds[self.i] == "word" and self.texts[self.i] == op:
            self.i += 1
            node, _, end = read()
            operands.append(node)
        start = first[1]
        return n.Logic(op, tuple(operands), Span(start, end)), start, end

    def negation(self) -> tuple[n.Expr, int, int]:
        if self.kinds[self.i] == "word" and self.texts[self.i] == "not":
            return self.prefixed("not", self.negation)
        return self.test()

    def prefixed(self, op: str,
                 read: Callable[[], tuple[n.Expr, int, int]]) -> tuple[n.Expr, int, int]:
        """`not X` or `- X`, the operator being the next token."""
        start = self.starts[self.i]
        self.i += 1
        self.enter()
        operand, _, end = read()
        self.depth -= 1
        return n.Unary(op, operand, Span(start, end)), start, end

    def test(self) -> tuple[n.Expr, int, int]:
        subject, start, end = self.sum()
        i = self.i
        kind = self.kinds[i]
        text = self.texts[i]
        if kind in _COMPARE:
            self.i = i + 1
            right, _, end = self.sum()
            return n.Binary(text, subject, right, Span(start, end)), start, end
        if kind != "word":
            return subject, start, end
        if text == "is":
            self.i = i + 1
            if self.word("not"):
                if self.word("missing"):
                    end = self.last_end()
                    return n.Presence(subject, True, Span(start, end)), start, end
                value, _, end = self.atom()
                return n.Is(subject, value, True, Span(start, end)), start, end
            if self.word("missing"):
                end = self.last_end()
                return n.Presence(subject, False, Span(start, end)), start, end
            if self.word("present"):
                end = self.last_end()
                return n.Presence(subject, True, Span(start, end)), start, end
            value, _, end = self.atom()
            return n.Is(subject, value, False, Span(start, end)), start, end
        if text == "in":
            self.i = i + 1
            options, _, end = self.atom()
            return n.In(subject, options, False, Span(start, end)), start, end
        if text == "not":
            self.i = i + 1
            self.expect("in")
            options, _, end = self.atom()
            return n.In(subject, options, True, Span(start, end)), start, end
        if text == "contains":
            self.i = i + 1
            item, _, end = self.sum()
            return n.Contains(subject, item, Span(start, end)), start, end
        if text == "between":
            self.i = i + 1
            low, _, _ = self.sum()
            self.expect("and")
            high, _, end = self.sum()
            return n.Between(subject, low, high, Span(start, end)), start, end
        return subject, start, end

    def sum(self) -> tuple[n.Expr, int, int]:
        return self.chain("+", "-", self.product)

    def product(self) -> tuple[n.Expr, int, int]:
        return self.chain("*", "/", self.unary)

    def chain(self, op1: str, op2: str,
              operand: Callable[[], tuple[n.Expr, int, int]]) -> tuple[n.Expr, int, int]:
        """Left-associative arithmetic: each operator nests the tree one level deeper."""
        left, start, end = operand()
        kinds = self.kinds
        levels = 0
        while kinds[self.i] == op1 or kinds[self.i] == op2:
            op = kinds[self.i]
            self.i += 1
            levels += 1
            self.enter()
            right, _, end = operand()
            left = n.Binary(op, left, right, Span(start, end))
        self.depth -= levels
        return left, start, end

    def enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _Unsure

    def unary(self) -> tuple[n.Expr, int, int]:
        if self.kinds[self.i] == "-":
            return self.prefixed("-", self.unary)
        return self.atom()

    def atom(self) -> tuple[n.Expr, int, int]:
        i = self.i
        kind = self.kinds[i]
        text = self.texts[i]
        start = self.starts[i]
        end = self.ends[i]
        self.i = i + 1
        if kind == "word":
            if text in _OPERAND_WORDS:
                if text == "yes" or text == "true":
                    return n.Bool(True, Span(start, end)), start, end
                if text == "no" or text == "false":
                    return n.Bool(False, Span(start, end)), start, end
                if text == "working":
                    return self.working_days(start)
                raise _Unsure  # `if`, `not`, `missing`, `present`: not an operand here
            follow = self.kinds[i + 1]
            if follow == "(":
                return self.call(i)
            if follow == "word" and self.texts[i + 1] == "for":
                self.i = i + 2
                self.enter()
                key, _, end = self.atom()
                self.depth -= 1
                return n.Lookup(n.Name(text, Span(start, self.ends[i])), key,
                                Span(start, end)), start, end
            return n.Name(text, Span(start, end)), start, end
        if kind == "number":
            if number_problem(text) is not None:
                raise _Unsure  # E005, worded by lowering
            if self.kinds[i + 1] == "word" and self.texts[i + 1] in UNITS:
                unit = UNITS[self.texts[i + 1]]
                if "." in text:
                    raise _Unsure  # E005, worded by lowering
                end = self.ends[i + 1]
                if unit == "months" or unit == "years":
                    months = duration_months(text, unit)
                    if months is None:
                        raise _Unsure
                    self.i = i + 2
                    return n.Months(months, months_text(text, unit), Span(start, end)), \
                        start, end
                days = duration_days(text, unit)
                if days is None:
                    raise _Unsure
                self.i = i + 2
                return n.Duration(days, f"{text} {unit}", Span(start, end)), start, end
            return n.Number(number_value(text), text, Span(start, end)), start, end
        if kind == "string":
            return n.Text(_decode(text), Span(start, end)), start, end
        if kind == "date":
            return n.DateLit(text, Span(start, end)), start, end
        if kind == "(":
            inner, _, _ = self.expr()
            close = self.i
            self.expect(")")
            return inner, start, self.ends[close]
        if kind == "[":
            return self.list_literal(start)
        raise _Unsure

    def plain(self) -> tuple[n.Expr, int, int]:
        """An operand of `working days`: a name, a date, a text, a list or a parenthesis."""
        i = self.i
        kind = self.kinds[i]
        if kind == "word" or kind == "date" or kind == "string" or kind == "(" or kind == "[":
            if kind == "word":
                self.i = i + 1
                span = Span(self.starts[i], self.ends[i])
                return n.Name(self.texts[i], span), span.start, span.end
            return self.atom()
        raise _Unsure

    def working_days(self, start: int) -> tuple[n.Expr, int, int]:
        self.expect("days")
        self.expect("from")
        first, _, _ = self.plain()
        self.expect("to")
        last, _, end = self.plain()
        excluding = calendar = None
        if self.word("excluding"):
            excluding, _, end = self.plain()
        if self.word("calendar"):
            calendar, _, end = self.plain()
        return n.WorkingDays(first, last, excluding, calendar, Span(start, end)), start, end

    def call(self, i: int) -> tuple[n.Expr, int, int]:
        function = n.Name(self.texts[i], Span(self.starts[i], self.ends[i]))
        self.i = i + 2
        args = self.separated(self.operand)
        close = self.i
        self.expect(")")
        start, end = self.starts[i], self.ends[close]
        return n.Call(function, tuple(args), Span(start, end)), start, end

    def list_literal(self, start: int) -> tuple[n.Expr, int, int]:
        items = self.separated(self.operand) if self.kinds[self.i] != "]" else []
        close = self.i
        self.expect("]")
        end = self.ends[close]
        return n.ListLit(tuple(items), Span(start, end)), start, end


#: What each declaration keyword starts.
_ITEMS: dict[str, Callable[[_Parser, int], n.Item]] = {
    "fact": _Parser.fact_decl,
    "decision": _Parser.decision_decl,
    "output": _Parser.output_decl,
    "resolve": _Parser.resolve,
    "as": _Parser.as_of,
    "define": _Parser.define,
    "table": _Parser.table_decl,
    "require": _Parser.require,
    "ensure": _Parser.ensure,
    "rule": _Parser.rule,
    "advise": _Parser.advisory,
    "otherwise": _Parser.otherwise,
}
