"""Decision log records: one decision as one JSON line, personal data masked; decision ids.

The line's format is a contract with the readers of decision logs (`policy batch`, `policy
backtest`): `policy-engine/decision-log`, version 1, described by
`schemas/decision-log.schema.json`. Keys come in a fixed order; a line is ASCII (other
characters are escaped), so it can never fail to encode; amounts are exact decimal text.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal

from policy_engine.serve.registry import ServedPolicy, utc_text

FORMAT = "policy-engine/decision-log"
FORMAT_VERSION = 1
#: What a masked fact's value is replaced with.
MASKED = "<masked>"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(seconds: float) -> str:
    """A decision id: a ULID (26 characters of Crockford base 32: the millisecond, then 80
    random bits), so ids sort by time and never repeat in practice, across processes too."""
    value = (int(seconds * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_ids(count: int) -> tuple[float, list[str]]:
    """The time now and `count` fresh decision ids."""
    now = time.time()
    return now, [new_id(now) for _ in range(count)]


def _plain(value: object) -> object:
    """JSON for the values a request's facts can hold that `json` does not know."""
    if isinstance(value, Decimal):
        return format(value, "f")  # exact; never through float
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(data: object) -> bytes:
    """Compact JSON as ASCII bytes; amounts (Decimal) as exact decimal text; no NaN."""
    return json.dumps(data, separators=(",", ":"), default=_plain,
                      allow_nan=False).encode("ascii")


class Masker:
    """Replaces the values of the listed facts before a line is written.

    Args:
        names: fact names holding personal data.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def mask(self, facts: object) -> tuple[object, list[str]]:
        """The facts with masked values, and the names masked (in the facts' order)."""
        if not self.names or not isinstance(facts, Mapping):
            return facts, []
        masked = [name for name in facts if name in self.names]
        if not masked:
            return facts, []
        return {k: (MASKED if k in self.names else v) for k, v in facts.items()}, masked


_HEAD = (b'{"format":"' + FORMAT.encode() + b'","format_version":'
         + str(FORMAT_VERSION).encode() + b',"decision_id":"')


def record(decision_id: str, seconds: float, served: ServedPolicy, facts: object,
           masker: Masker, result: bytes, summary: bytes) -> bytes:
    """One decision log line, newline included (see the module docstring).

    Args:
        result, summary: the JSON text of the decision without its explanation and of the
            trace summary (`deciding.Decided`).
    """
    shown, masked = masker.mask(facts)
    return b"".join((_HEAD, decision_id.encode("ascii"), b'","time":"',
                     utc_text(seconds).encode("ascii"), b'","policy":', served.log_policy,
                     b',"facts":', dumps(shown), b',"masked":', dumps(masked),
                     b',"result":', result, b',"trace_summary":', summary, b"}\n"))
