"""Batch history: a line of a server's decision log turned back into the facts it decided on.

A decision log (`policy-engine/decision-log`, version 1; its JSON Schema ships as
`schemas/decision-log.schema.json`) has one object per line with the facts as received,
after masking: a masked fact's value is the text `<masked>` and its name is listed in
`masked`. Replaying a line means deciding its `facts` again. A masked fact the policy does not
declare was never read, so it is left out; a masked fact the policy declares cannot be
replayed exactly, and the line is reported as such (E604), never decided with the
placeholder. A line that is not a decision-log line of a version this engine reads is E605.
"""

from __future__ import annotations

import json

from policy_engine.core.data import json_path, kind_of
from policy_engine.policy import Policy

from .rows import DEFAULT_LIMITS, JsonRows, OverLimit, Raw, RowError, RowLimits

#: The format name and the versions of it that can be replayed.
LOG_FORMAT = "policy-engine/decision-log"
LOG_VERSIONS = (1,)
#: What a masked fact's value is replaced with in the log.
MASK = "<masked>"


class DecisionLogRows:
    """Parses decision-log lines into the raw facts to replay, within the row limits.

    Args:
        policy: the policy the lines are replayed under (masked facts it declares make a
            line unreplayable).
    """

    def __init__(self, policy: Policy, limits: RowLimits = DEFAULT_LIMITS) -> None:
        self._json = JsonRows(limits)
        self._declared = frozenset(info.name for info in policy.checked.facts)

    def parse(self, record: bytes) -> Raw | RowError:
        try:
            text = record.decode("utf-8")
        except UnicodeDecodeError as error:
            return RowError("E304", f"not UTF-8 text (byte {error.start} cannot be decoded)")
        if not text.strip():
            return RowError("E605", "blank line; expected a decision-log object")
        try:
            data = self._json.decode(text)
        except OverLimit as error:
            return RowError("E307", error.message, error.path)
        except ValueError as error:
            reason = f"{error.msg} (column {error.colno})" \
                if isinstance(error, json.JSONDecodeError) else str(error)
            return RowError("E605", f"invalid JSON: {reason}")
        return replayable(data, self._declared)


def replayable(data: object, declared: frozenset[str]) -> Raw | RowError:
    """The facts of one decoded decision-log line, ready to decide again, or why not."""
    if not isinstance(data, dict):
        return RowError("E605", f"expected a decision-log object, got "
                                f"{kind_of(data, json=True)}")
    if data.get("format") != LOG_FORMAT:
        return RowError("E605", f"not a decision-log line: 'format' is not '{LOG_FORMAT}'",
                        json_path(("format",)))
    version = data.get("format_version")
    if version not in LOG_VERSIONS or isinstance(version, bool):
        return RowError("E605", f"decision-log format_version {version!r} cannot be read; this "
                                f"engine reads version {', '.join(map(str, LOG_VERSIONS))}",
                        json_path(("format_version",)))
    facts = data.get("facts")
    if not isinstance(facts, dict):
        return RowError("E605", f"'facts' must be an object, got {kind_of(facts, json=True)}",
                        json_path(("facts",)))
    masked = data.get("masked", [])
    if not isinstance(masked, list) or not all(isinstance(name, str) for name in masked):
        return RowError("E605", "'masked' must be an array of fact names",
                        json_path(("masked",)))
    for name in masked:
        if name in declared and name in facts:
            return RowError("E604", f"fact '{name}' was masked in the log, and the policy "
                                    "reads it: the decision cannot be replayed exactly",
                            json_path((name,)))
    return {key: value for key, value in facts.items() if key not in masked}
