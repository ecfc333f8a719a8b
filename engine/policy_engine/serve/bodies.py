"""Request bodies: JSON read within limits, numbers exact, problems as diagnostics.

A body is read no further than `max_body_bytes` (a declared `Content-Length` over it is
refused before a byte is read). Its nesting is measured before `json` recurses into it, and a
number with more digits than `max_digits` is never expanded; numbers with a fraction or an
exponent become exact `Decimal`s, never floats (the batch reader's `JsonRows` does all of
this). Every problem is a `BodyProblem`: an HTTP status and a diagnostic with a JSON path, or
a line and column for malformed JSON.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from policy_engine.batch.rows import JsonRows, OverLimit, RowLimits
from policy_engine.core.data import kind_of
from policy_engine.core.diagnostics import Diagnostic

#: The file name diagnostics about a request body give.
BODY = "<request body>"


class BodyProblem(Exception):
    """A request body the server will not decide on."""

    def __init__(self, status: int, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.status = status
        self.diagnostic = diagnostic


@dataclass(frozen=True)
class BodyLimits:
    max_body_bytes: int
    max_depth: int
    max_digits: int
    max_batch: int


def _too_large(limits: BodyLimits, size: str) -> BodyProblem:
    return BodyProblem(413, Diagnostic(
        "E502", f"the request body is {size}, more than the limit of "
                f"{limits.max_body_bytes:,} bytes", file=BODY, path="$",
        help="send fewer fact sets per request, or start the server with a larger "
             "--max-body-bytes"))


async def read_body(declared: str | None, chunks: AsyncIterator[bytes],
                    limits: BodyLimits) -> bytes:
    """The body's bytes, read no further than the limit.

    Raises:
        BodyProblem: 413 (E502) when it is larger than the limit.
    """
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise _too_large(limits, f"{int(declared):,} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limits.max_body_bytes:
            raise _too_large(limits, f"over {limits.max_body_bytes:,} bytes")
        parts.append(chunk)
    return b"".join(parts)


class BodyParser:
    """Parses request bodies into JSON values within the limits (one per server)."""

    def __init__(self, limits: BodyLimits) -> None:
        self.limits = limits
        self._rows = RowLimits(max_row_bytes=limits.max_body_bytes,
                               max_depth=limits.max_depth, max_digits=limits.max_digits)

    def parse(self, body: bytes) -> object:
        """The body as JSON.

        Raises:
            BodyProblem: 400 with E501 (not UTF-8, not JSON, a key twice) or E502 (nested
                too deeply, a number with too many digits).
        """
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _malformed(f"the body is not UTF-8 text (byte {error.start} cannot be "
                             "decoded)") from None
        if not text.strip():
            raise _malformed("the body is empty; expected JSON")
        # A decoder per call: `JsonRows` keeps state during one decode, and requests may be
        # parsed on several threads at once.
        parser = JsonRows(self._rows)
        try:
            return parser.decode(text)
        except OverLimit as error:
            message = error.message.replace("the row", "the body").replace(
                "--max-depth", "--max-depth of the server").replace(
                "--max-digits", "--max-digits of the server")
            help = ("nest less deeply, or start the server with a larger --max-depth"
                    if "nests" in message else "write the number with fewer digits")
            raise BodyProblem(400, Diagnostic("E502", message, file=BODY, path=error.path,
                                              help=help)) from None
        except json.JSONDecodeError as error:
            raise _malformed(f"invalid JSON: {error.msg}", error.lineno, error.colno) from None
        except ValueError as error:  # a key twice, or NaN/Infinity
            key = getattr(error, "key", None)
            if key is not None:
                raise _malformed(f"the key '{key}' appears twice in one object") from None
            raise _malformed(f"invalid JSON: {error}") from None

    def facts(self, body: bytes) -> dict[str, object]:
        """One fact set: the body must be a JSON object.

        Raises:
            BodyProblem: as `parse`, or 422 (E503) for a body that is not an object.
        """
        data = self.parse(body)
        if not isinstance(data, dict):
            raise _shape(f"expected a JSON object of facts, got {kind_of(data, json=True)}")
        return data

    def fact_sets(self, body: bytes) -> list[object]:
        """A decide-many body: a JSON array of fact sets, at most `max_batch` of them.

        Raises:
            BodyProblem: as `parse`, or 422 (E503) for a body that is not an array of objects,
                or 413 (E502) for too many fact sets.
        """
        data = self.parse(body)
        if not isinstance(data, list):
            raise _shape(f"expected a JSON array of fact sets, got {kind_of(data, json=True)}")
        if len(data) > self.limits.max_batch:
            raise BodyProblem(413, Diagnostic(
                "E502", f"the request has {len(data):,} fact sets, more than the limit of "
                        f"{self.limits.max_batch:,}", file=BODY, path="$",
                help="split the request, or start the server with a larger --max-batch"))
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                raise _shape(f"expected a JSON object of facts, got {kind_of(item, json=True)}",
                             f"$[{index}]")
        return data


def _malformed(message: str, line: int | None = None, column: int | None = None) -> BodyProblem:
    return BodyProblem(400, Diagnostic("E501", message, file=BODY, line=line, column=column,
                                       path=None if line is not None else "$",
                                       help="send the facts as one JSON document in UTF-8"))


def _shape(message: str, path: str = "$") -> BodyProblem:
    return BodyProblem(422, Diagnostic("E503", message, file=BODY, path=path,
                                       help="decide takes one object of facts; decide-many "
                                            "an array of them"))
