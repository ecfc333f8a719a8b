"""SQL validation: the input table's columns checked against the fact declarations, as SQL.

The query reads a table with one column per fact in a documented type (docs/scale-out.md):
yes/no as BOOLEAN, whole numbers as BIGINT, amounts as decimal text or DECIMAL (read as text, so
`24.90` keeps its two places), text and enumeration values as VARCHAR, dates as DATE, lists as
arrays; NULL is a fact left out. This stage gives each row the typed facts the rules read
(defaults filled in, dates as day numbers, amounts with their places and sign) and says
whether the row is a fact set for the policy at all: the first problem in the order the fact
stage sorts them (by JSON path), its code (E304 a value that does not fit, E306 a required
fact missing), its JSON path and how many problems the row has, or that the row lies outside
what SQL decides exactly (`values.Envelope`) and is *deferred*.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from policy_engine.check.checked import CheckedPolicy, FactInfo
from policy_engine.check.types import (
    AmountType,
    BoolType,
    DateType,
    EnumType,
    ListType,
    TextType,
    Type,
    WholeType,
)
from policy_engine.core.data import json_path, path_key
from policy_engine.sql import trees as t
from policy_engine.sql.expressions import amount_digits, constant, whole_bounds
from policy_engine.sql.trees import Sql
from policy_engine.sql.values import EPOCH, LAST_DAY, LINE, Envelope, Untranslatable

#: An amount written as text (the fact stage's pattern, without a backslash so every dialect
#: reads the literal alike).
AMOUNT_TEXT = "^-?[0-9]+([.][0-9]+)?$"


@dataclass(frozen=True)
class Check:
    """One way a row can fail validation: where, the code, and the SQL that finds it."""

    path: tuple[str, ...]
    code: str
    failed: Sql
    count: Sql  # how many problems it stands for in a row where it fails (list items)
    position: Sql | None = None  # the first bad item's index, for a list


def sql_type(kind: Type) -> str:
    """The SQL type of an input column for a fact of this type (docs/scale-out.md)."""
    if isinstance(kind, BoolType):
        return "BOOLEAN"
    if isinstance(kind, WholeType):
        return "BIGINT"
    if isinstance(kind, DateType):
        return "DATE"
    if isinstance(kind, ListType):
        return f"ARRAY<{sql_type(kind.element)}>"
    return "VARCHAR"


def day_of(date: Sql) -> Sql:
    """A DATE as a day number: days since 0001-01-01."""
    return exp.DateDiff(this=date, expression=exp.cast(t.lit(EPOCH), "DATE"),
                        unit=exp.var("DAY"))


class Validation:
    """The typed stage of the query for one policy."""

    def __init__(self, policy: CheckedPolicy, envelope: Envelope) -> None:
        self.policy = policy
        self.envelope = envelope
        self.columns: list[Sql] = [t.alias(t.col(LINE), LINE)]
        self.checks: list[Check] = []
        self.deferrals: list[Sql] = []
        # Columns of the first stage (`parsed`, an amount's shape) and of the second
        # (`checked`, an amount's exact value), read by the checks and the typed columns.
        self.parsed: list[Sql] = []
        self.exact: list[Sql] = []
        for info in policy.facts:
            self._fact(info)

    def _fact(self, info: FactInfo) -> None:
        name, kind = info.name, info.type
        raw = t.col(name)
        if info.required:
            self.checks.append(Check((name,), "E306", t.is_null(raw), t.num(1)))
        if isinstance(kind, AmountType):
            self._amount(info, raw)
            return
        if isinstance(kind, WholeType):
            bounds = whole_bounds(WholeType(), self.envelope)
            outside = t.or_([t.compare("<", raw, t.big(bounds.low)),
                             t.compare(">", raw, t.big(bounds.high))])
            self.deferrals.append(t.and_([t.not_null(raw), outside]))
            tests = []
            if kind.minimum is not None:
                tests.append(t.compare("<", raw, t.big(kind.minimum)))
            if kind.maximum is not None:
                tests.append(t.compare(">", raw, t.big(kind.maximum)))
            if tests:
                self.checks.append(Check((name,), "E304", t.and_([t.not_null(raw),
                                                                  t.or_(tests)]), t.num(1)))
            # NULL outside the envelope: the row is deferred, and no later cast to a decimal
            # of the envelope's digits may fail on a value it never decides.
            value = t.when(t.not_(outside), raw)
        elif isinstance(kind, DateType):
            value = day_of(raw)
            outside = t.or_([t.compare("<", value, t.big(0)),
                             t.compare(">", value, t.big(LAST_DAY))])
            self.deferrals.append(t.and_([t.not_null(raw), outside]))
        elif isinstance(kind, EnumType):
            self.checks.append(Check((name,), "E304", t.and_([
                t.not_null(raw), t.not_(t.in_list(raw, [t.lit(v) for v in kind.values]))]),
                t.num(1)))
            value = raw
        elif isinstance(kind, ListType):
            value = self._list(info, raw)
        elif isinstance(kind, (BoolType, TextType)):
            value = raw
        else:
            raise Untranslatable(f"a fact of type {kind.describe()}", info.span)
        if info.default is not None:
            value = t.coalesce([value, constant(info.default, kind, info.span).sql])
        self.columns.append(t.alias(value, name))

    def _list(self, info: FactInfo, raw: Sql) -> Sql:
        kind = info.type
        assert isinstance(kind, ListType)
        element = kind.element
        item = t.var("x")
        bad: Sql = t.is_null(item)
        if isinstance(element, EnumType):
            bad = t.or_([bad, t.not_(t.in_list(item, [t.lit(v) for v in element.values]))])
        elif not isinstance(element, (TextType, DateType)):
            raise Untranslatable(f"a list of {element.describe()}", info.span)
        flags = t.transform(raw, "x", bad)
        count = t.cast(t.size(t.filter_(raw, "x", bad)), "BIGINT")
        position = t.arith("-", exp.ArrayPosition(this=flags, expression=t.true()), t.num(1))
        self.checks.append(Check((info.name,), "E304", t.and_([
            t.not_null(raw), t.compare(">", count, t.num(0))]), count, position))
        if isinstance(element, DateType):
            days = t.transform(raw, "x", day_of(t.var("x")))
            outside = t.filter_(days, "x", t.or_([t.compare("<", t.var("x"), t.big(0)),
                                                  t.compare(">", t.var("x"),
                                                            t.big(LAST_DAY))]))
            self.deferrals.append(t.and_([t.not_null(raw),
                                          t.compare(">", t.size(outside), t.num(0))]))
            return days
        return raw

    def _amount(self, info: FactInfo, raw: Sql) -> None:
        kind = info.type
        assert isinstance(kind, AmountType)
        name = info.name
        text = t.cast(raw, "VARCHAR")
        digits = amount_digits(kind, self.envelope)
        # The text's shape is read once, in the `parsed` stage, and its columns are read by
        # the checks, the deferral and the value after (an engine does not share the same
        # string work between the expressions of a stage).
        well_formed = t.col(f"_a_{name}_wf")
        places = t.col(f"_a_{name}_places")
        significant = t.col(f"_a_{name}_digits")
        unsigned = t.when(exp.StartsWith(this=text, expression=t.lit("-")),
                          t.substring(text, t.num(2), t.length(text)), text)
        point = exp.StrPosition(this=unsigned, substr=t.lit("."))
        whole = t.when(t.compare(">", point, t.num(0)),
                       t.substring(unsigned, t.num(1), t.arith("-", point, t.num(1))), unsigned)
        self.parsed += [
            t.alias(exp.RegexpLike(this=text, expression=t.lit(AMOUNT_TEXT)), well_formed.name),
            t.alias(t.when(t.compare(">", point, t.num(0)),
                           t.arith("-", t.length(unsigned), point), t.big(0)), places.name),
            t.alias(t.length(exp.Trim(this=whole, expression=t.lit("0"), position="LEADING")),
                    significant.name)]
        self.checks.append(Check((name,), "E304", t.and_([t.not_null(raw),
                                                          t.not_(well_formed)]), t.num(1)))
        envelope = self.envelope
        inside = t.and_([well_formed, t.compare("<=", places, t.num(envelope.amount_scale)),
                         t.compare("<=", significant, t.num(envelope.amount_digits))])
        self.deferrals.append(t.and_([t.not_null(raw), well_formed, t.not_(inside)]))
        wide = f"DECIMAL({envelope.amount_digits + envelope.amount_scale}, " \
               f"{envelope.amount_scale})"
        exact = t.col(f"_a_{name}_exact")
        self.exact.append(t.alias(t.when(inside, t.cast(text, wide)), exact.name))
        tests = []
        if kind.minimum is not None:
            tests.append(t.compare("<", exact, t.decimal(t.lit(format(kind.minimum, "f")), 38,
                                                         envelope.amount_scale)))
        if kind.maximum is not None:
            tests.append(t.compare(">", exact, t.decimal(t.lit(format(kind.maximum, "f")), 38,
                                                         envelope.amount_scale)))
        if tests:
            self.checks.append(Check((name,), "E304", t.and_([t.not_null(exact),
                                                              t.or_(tests)]), t.num(1)))
        value = t.decimal(exact, digits.total, digits.scale)
        scale = t.cast(places, "BIGINT")
        negative: Sql = exp.StartsWith(this=text, expression=t.lit("-"))
        if info.default is not None:
            default = constant(info.default, kind, info.span)
            assert default.scale is not None and default.negative is not None
            value = t.coalesce([value, t.decimal(default.sql, digits.total, digits.scale)])
            scale = t.coalesce([scale, default.scale])
            negative = t.coalesce([negative, default.negative])
        self.columns += [t.alias(value, name), t.alias(scale, name + "__scale"),
                         t.alias(negative, name + "__negative")]

    # ------------------------------------------------------------ the row's verdict
    def ordered_checks(self) -> list[Check]:
        """The checks in the order the fact stage sorts its problems: by JSON path."""
        return sorted(self.checks, key=lambda check: path_key(check.path))

    def stages(self, table: str) -> list[tuple[str, exp.Select]]:
        """The stages that read `table`: `parsed` (amounts' shapes), `exact` (amounts' exact
        values), `checked` (each check's verdict once, as a column `_check_N`; a list check's
        count of bad items as `_check_N_count`), and `typed`: the typed facts, and
        `_invalid_code`, `_invalid_path` and `_invalid_count` of the first problem, and
        `_deferred`, whether the row is outside what SQL decides exactly. Each check is
        computed once and read three times (code, path, count) after."""
        checks = self.ordered_checks()
        verdicts: list[Sql] = []
        failed: list[Sql] = []
        counts: list[Sql] = []
        for number, check in enumerate(checks):
            column = f"_check_{number}"
            verdicts.append(t.alias(check.failed, column))
            failed.append(t.col(column))
            if check.position is None:
                counts.append(check.count)
            else:  # a list check: how many items are bad
                verdicts.append(t.alias(check.count, column + "_count"))
                counts.append(t.col(column + "_count"))
        verdicts.append(t.alias(t.or_(self.deferrals) if self.deferrals else t.false(),
                                "_deferred"))
        code = t.case([(test, t.lit(check.code)) for test, check in zip(failed, checks,
                                                                         strict=True)])
        path = t.case([(test, _path(check)) for test, check in zip(failed, checks,
                                                                   strict=True)])
        count = t.num(0) if not checks else exp.Add(
            this=t.num(0), expression=t.paren(_sum([t.when(test, number, t.num(0))
                                                    for test, number in zip(failed, counts,
                                                                            strict=True)])))
        stages: list[tuple[str, exp.Select]] = []
        source = table
        for name, columns in (("parsed", self.parsed), ("exact", self.exact),
                              ("checked", verdicts)):
            if columns:
                stages.append((name, exp.select(exp.Star(), *columns).from_(source,
                                                                             copy=False)))
                source = name
        stages.append(("typed", exp.select(
            *self.columns, t.alias(code, "_invalid_code"), t.alias(path, "_invalid_path"),
            t.alias(t.cast(count, "BIGINT"), "_invalid_count"), t.col("_deferred"))
            .from_(source, copy=False)))
        return stages


def _path(check: Check) -> Sql:
    if check.position is None:
        return t.lit(json_path(check.path))
    return t.concat([t.lit(json_path(check.path) + "["),
                     t.cast(check.position, "VARCHAR"), t.lit("]")])


def _sum(parts: list[Sql]) -> Sql:
    total = parts[0]
    for part in parts[1:]:
        total = t.arith("+", total, part)
    return total
