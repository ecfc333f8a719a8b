"""Batch typed rows: a JSON Lines row decoded by msgspec straight into the policy's facts.

For a policy whose facts are all required and of simple types, the quick path (`quick`)
decodes each line into a msgspec `Struct` made from the fact declarations, so that msgspec's
C code checks the types while it reads: a yes/no must be `true` or `false`, a value of an
enumeration one of its values (a `Literal`), a whole number a JSON integer within the fact's
bounds, text a string; every fact must be there, once, not null, and no other key may be.
Amounts are kept as the text the row gives (at most `AMOUNT_DIGITS` characters: a longer
one is never the short decimal text the decider converts) and converted by the generated decider
(`Policy.doubting_decider` with `row`), exactly as on the dict path: msgspec's own `Decimal`
accepts texts that the fact stage refuses (`1e2`, `1_0`, ` 1`, `NaN`).

A typed row is only ever an answer for the rows it accepts. Any line msgspec refuses (a
missing, null, unknown or wrong-typed fact, an amount written as a number, a value out of
range, invalid JSON, a byte order mark) is taken by the dict path and then, if need be, by
the row path, which words the problem; and since msgspec keeps the last of a key written
twice, a line with more colons than facts is never decided from its typed row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from policy_engine.check.types import AmountType, BoolType, EnumType, TextType, WholeType
from policy_engine.facts.forms import AMOUNT_DIGITS
from policy_engine.policy import Policy

from .rows import RowLimits

#: The largest magnitude msgspec decodes as an int (64 bits); wider bounds are not typed.
_INT64 = 2**63 - 1


class TypedRows:
    """The decoder of typed rows of a policy, and the decider that takes them.

    Args:
        decode: bytes of one line to a typed row; raises `failed` when it does not fit.
        decode_lines: bytes of JSON values separated by whitespace to their typed rows.
        failed: the exceptions of a line that is not a typed row.
        decide: (row, file, locate, prefix) -> a Decision, or what `doubt` returns.
        facts: the number of facts, so of keys (and at least of colons) of a line.
    """

    def __init__(self, decode: Callable[[bytes], Any], decode_lines: Callable[[bytes], list[Any]],
                 failed: tuple[type[BaseException], ...], decide: Callable[..., Any],
                 facts: int) -> None:
        self.decode = decode
        self.decode_lines = decode_lines
        self.failed = failed
        self.decide = decide
        self.facts = facts


def typed_rows(policy: Policy, limits: RowLimits,
               doubt: Callable[..., Any]) -> TypedRows | None:
    """The typed rows of `policy`; None when msgspec is not installed, when a fact cannot be
    typed (optional, with a default, a date, a list, a whole number without both bounds or
    beyond 64 bits), or when a whole number within a fact's bounds may have more digits than
    `limits` allow (the `json` path refuses it, so the row must reach that path)."""
    if limits.max_depth < 2:  # as `rows.msgspec_decoding`: the `json` path measures depth
        return None
    try:
        import msgspec
    except ImportError:
        return None
    fields: list[tuple[str, Any]] = []
    names: dict[str, str] = {}
    for index, info in enumerate(policy.checked.facts):
        kind = _field_type(info.type, limits, msgspec.Meta)
        if kind is None or not info.required:
            return None
        attribute = f"f{index}"  # never a name a Struct has: the key is given by `rename`
        fields.append((attribute, kind))
        names[info.name] = attribute
    if not fields:
        return None
    # Not tracked by the garbage collector (`gc=False`): a row holds only bools, ints and
    # strs, so it can be in no cycle, and a span's thousand rows then start no collection.
    row = msgspec.defstruct("TypedRow", fields, rename=names_by_attribute(names),
                            forbid_unknown_fields=True, gc=False)
    decide = policy.doubting_decider(doubt, row=(row, names))
    if decide is doubt:
        return None
    decoder = msgspec.json.Decoder(row)
    return TypedRows(decoder.decode, decoder.decode_lines, (msgspec.DecodeError, RecursionError),
                     decide, len(fields))


def names_by_attribute(names: dict[str, str]) -> dict[str, str]:
    """The key of each attribute in the JSON (`defstruct`'s `rename`)."""
    return {attribute: name for name, attribute in names.items()}


def _field_type(t: object, limits: RowLimits, meta: Any) -> Any:
    """The msgspec type of a fact of type `t`, or None when it cannot be typed."""
    if isinstance(t, BoolType):
        return bool
    if isinstance(t, EnumType):
        if not t.values or not all(value.__class__ is str for value in t.values):
            return None
        return Literal[t.values]
    if isinstance(t, TextType):
        return str
    if isinstance(t, WholeType):
        low, high = t.minimum, t.maximum
        if low is None or high is None or max(abs(low), abs(high)) > _INT64:
            return None
        if max(len(str(abs(low))), len(str(abs(high)))) > limits.max_digits:
            return None
        return Annotated[int, meta(ge=low, le=high)]
    if isinstance(t, AmountType):  # longer text is never the short form the decider reads
        return Annotated[str, meta(max_length=AMOUNT_DIGITS)]
    return None
