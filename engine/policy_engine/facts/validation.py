"""Validation: raw fact sets checked against a policy's declarations and converted to typed values.

`FactStage` tries the quick converters of `conversion` first: they answer "valid, here are the
typed values" for the plain fact sets most callers send, without importing anything. When in
doubt it takes the full path, `FactValidator`, which checks the fact set against its JSON
Schema (so problems carry JSON paths), converts each value and words every problem. Both give
the same typed values; the tests hold them (and the compiled validator) to that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from policy_engine.check.checked import FactInfo
from policy_engine.check.types import AmountType, Value
from policy_engine.core.data import JsonPath, Locator, json_path, kind_of, path_key
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, did_you_mean
from policy_engine.facts.conversion import ConversionError, convert_value, converter, plain
from policy_engine.facts.schema import fact_schema
from policy_engine.facts.wording import (
    declared_list,
    expected,
    mismatch,
    mismatch_help,
    null_help,
    null_message,
    quote,
    type_at,
)

if TYPE_CHECKING:
    from jsonschema import ValidationError

#: Marks a fact that the raw facts leave out.
_ABSENT = object()


class FactStage:
    """The fact stage of one policy: typed facts from raw ones, or every problem worded.

    Args:
        facts: the declared facts, in declaration order.
        title: the title of the JSON Schema, usually the policy's name.
    """

    def __init__(self, facts: Sequence[FactInfo], *, title: str | None = None) -> None:
        self.facts = tuple(facts)
        self.title = title
        self._names = frozenset(info.name for info in self.facts)
        quick = [(info, converter(info.type)) for info in self.facts]
        self._quick: tuple[tuple[FactInfo, Callable[[object], Value | None]], ...] | None = (
            tuple((info, convert) for info, convert in quick if convert is not None)
            if all(convert is not None for _, convert in quick) else None)
        self._full: FactValidator | None = None

    @property
    def full(self) -> FactValidator:
        """The full path (JSON Schema, conversion, wording), built when first needed."""
        if self._full is None:
            self._full = FactValidator(self.facts, title=self.title)
        return self._full

    def schema(self) -> dict[str, Any]:
        """The published JSON Schema of a fact set."""
        return fact_schema(self.facts, title=self.title)

    def validate(self, data: object, *, file: str, locate: Locator | None = None,
                 prefix: JsonPath = ("facts",)) -> dict[str, Value]:
        """Typed facts in declaration order, with defaults filled in.

        Raises:
            DiagnosticError: with every problem found, sorted by JSON path.
        """
        typed = self.quick(data)
        if typed is None:
            typed = self.full.validate(data, file=file, locate=locate, prefix=prefix)
        return typed

    def quick(self, data: object) -> dict[str, Value] | None:
        """The typed facts when every value plainly fits its declaration, else None."""
        converters = self._quick
        if converters is None or data.__class__ is not dict:
            return None
        assert isinstance(data, dict)
        if not self._names.issuperset(data):
            return None
        result: dict[str, Value] = {}
        for info, convert in converters:
            raw = data.get(info.name, _ABSENT)
            if raw is _ABSENT:
                if info.default is not None:
                    result[info.name] = info.default
                elif info.required:
                    return None
                continue
            value = convert(raw)
            if value is None:  # null among them: the full path refuses it (E314)
                return None
            result[info.name] = value
        return result


class FactValidator:
    """Validates fact sets against declarations; build one per policy and reuse it.

    Args:
        facts: the declared facts, in declaration order.
        title: an optional schema title.
    """

    def __init__(self, facts: Sequence[FactInfo], *, title: str | None = None) -> None:
        self.facts: tuple[FactInfo, ...] = tuple(facts)
        self.schema: dict[str, Any] = fact_schema(self.facts, title=title)
        self._by_name = {info.name: info for info in self.facts}
        # Imported here: programs that only decide (the compiled validator) never need it.
        from jsonschema import Draft202012Validator, FormatChecker

        self._validator = Draft202012Validator(self.schema, format_checker=FormatChecker())

    def validate(
        self,
        data: object,
        *,
        file: str,
        locate: Locator | None = None,
        prefix: JsonPath = ("facts",),
    ) -> dict[str, Value]:
        """Checks a fact set and converts it to runtime values.

        Args:
            data: plain data, usually from `policy_engine.scenarios.yaml_data` or JSON.
            file: the file name used in diagnostics.
            locate: maps a JSON path to its (line, column), for example `YamlDocument.locate`.
            prefix: the JSON path of `data` inside its file.

        Returns:
            The facts in declaration order: the values given, plus defaults for optional facts
            that were left out. Optional facts without a default that were left out are absent.

        Raises:
            DiagnosticError: with every problem found, sorted by JSON path.
        """
        reporter = _Reporter(file, locate, prefix)
        if not isinstance(data, dict):
            reporter.add(
                "E304",
                f"facts must be a mapping of fact names to values, got {kind_of(data)}",
                (),
                help="write one 'name: value' line per fact",
            )
            raise reporter.error()
        # null is refused for every fact (E314, below): a fact that is not given is left out,
        # so that a blank value in a file never quietly counts as "not given".
        data = {key: plain(value) for key, value in data.items()}
        broken: set[object] = set()
        reported_required = False
        by_path: dict[JsonPath, list[ValidationError]] = {}
        for error in self._validator.iter_errors(data):
            if not error.path:
                if error.validator == "additionalProperties":
                    self._unknown(data, reporter)
                elif error.validator == "required" and not reported_required:
                    reported_required = True
                    self._missing(data, reporter)
                continue
            path = tuple(error.path)
            if error.validator in ("minimum", "maximum") and self._is_amount_at(path):
                continue  # float comparison is inexact; the conversion checks amounts exactly
            by_path.setdefault(path, []).append(error)
        for path, errors in by_path.items():
            broken.add(path[0])
            self._wrong_value(path, errors[0].instance, reporter)
        result: dict[str, Value] = {}
        for info in self.facts:
            if info.name in data:
                if info.name in broken:
                    continue
                try:
                    result[info.name] = convert_value(info.type, data[info.name])
                except ConversionError as exc:
                    reporter.add("E304", str(exc), (info.name, *exc.path), help=exc.help)
            elif info.default is not None:
                result[info.name] = info.default
        if reporter.diagnostics:
            raise reporter.error()
        return result

    # ------------------------------------------------------------ messages

    def _unknown(self, data: dict[Any, object], reporter: _Reporter) -> None:
        names = [info.name for info in self.facts]
        for key in data:
            if key in self._by_name:
                continue
            shown = str(key)
            help_text = did_you_mean(shown, names)
            if help_text is None:
                help_text = declared_list(names)
            reporter.add("E305", f"unknown fact {quote(shown)}", (shown,), help=help_text)

    def _missing(self, data: dict[Any, object], reporter: _Reporter) -> None:
        for info in self.facts:
            if info.required and info.name not in data:
                reporter.add(
                    "E306",
                    f"required fact {quote(info.name)} is missing",
                    (info.name,),
                    help=f"expected {expected(info.type)}",
                    locate_at=(),
                )

    def _wrong_value(self, path: JsonPath, value: object, reporter: _Reporter) -> None:
        info = self._by_name[str(path[0])]
        t = type_at(info.type, path[1:])
        if value is None and len(path) > 1:
            reporter.add("E304", f"expected {expected(t)}, got null", path,
                         help="lists cannot hold null; remove the item")
            return
        if value is None:
            reporter.add("E314", null_message(info), path, help=null_help(info))
            return
        reporter.add("E304", mismatch(t, value), path, help=mismatch_help(t, value))

    def _is_amount_at(self, path: JsonPath) -> bool:
        info = self._by_name.get(str(path[0]))
        return info is not None and isinstance(type_at(info.type, path[1:]), AmountType)


class _Reporter:
    """Collects diagnostics for one fact set, with positions from the caller's locator."""

    def __init__(self, file: str, locate: Locator | None, prefix: JsonPath) -> None:
        self.file = file
        self.locate = locate
        self.prefix = prefix
        self.diagnostics: list[tuple[tuple[tuple[int, int, str], ...], Diagnostic]] = []

    def add(
        self,
        code: str,
        message: str,
        path: JsonPath,
        *,
        help: str | None = None,
        locate_at: JsonPath | None = None,
    ) -> None:
        full = self.prefix + path
        where = self.prefix + locate_at if locate_at is not None else full
        position = self.locate(where) if self.locate is not None else None
        diagnostic = Diagnostic(
            code,
            message,
            file=self.file,
            line=position[0] if position else None,
            column=position[1] if position else None,
            path=json_path(full),
            help=help,
        )
        self.diagnostics.append((path_key(full), diagnostic))

    def error(self) -> DiagnosticError:
        ordered = sorted(self.diagnostics, key=lambda item: (item[0], item[1].message))
        return DiagnosticError([diagnostic for _, diagnostic in ordered])
