"""Access: bearer tokens, compared in constant time, for every policy or for some policies.

With no token configured, every client may ask (the server listens on 127.0.0.1 by default).
With tokens, `/v1/...`, `/openapi.json` and `/metrics` need `Authorization: Bearer TOKEN`;
`/health` and `/ready` never do, so a load balancer can probe them. A token listed for some
policies may use and see only those; `/metrics` needs a token for every policy.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError


def _digest(token: str) -> bytes:
    # Digests have one length, so comparing them takes the same time whatever the token.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class Grant:
    """What the presented token may use: every policy, or the ones named."""

    every_policy: bool
    policies: frozenset[str] = frozenset()

    def allows(self, policy: str) -> bool:
        return self.every_policy or policy in self.policies


class Access:
    """Checks `Authorization` headers against the configured tokens.

    Args:
        tokens: tokens that may use every policy.
        policy_tokens: (policy name, tokens that may use it) pairs.
    """

    def __init__(self, tokens: Iterable[str],
                 policy_tokens: Iterable[tuple[str, Iterable[str]]]) -> None:
        self._entries: list[tuple[bytes, str | None]] = [(_digest(t), None) for t in tokens]
        for name, listed in policy_tokens:
            self._entries += [(_digest(t), name) for t in listed]
        self.required = bool(self._entries)

    def grant(self, header: str | None) -> Grant | None:
        """What the header's token may use; None when it is missing or no token matches.

        Every configured token is compared, each in constant time, whatever matched first,
        so the time taken says nothing about which token or how much of it was right.
        """
        if not self.required:
            return Grant(True)
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        presented = _digest(token.strip())
        every = False
        names: set[str] = set()
        matched = False
        for digest, name in self._entries:
            if hmac.compare_digest(presented, digest):
                matched = True
                if name is None:
                    every = True
                else:
                    names.add(name)
        return Grant(every, frozenset(names)) if matched else None


def unauthorized(message: str) -> Diagnostic:
    """E506: no valid token, or a token that may not use this."""
    return Diagnostic("E506", message, help="send the header 'Authorization: Bearer TOKEN' "
                                            "with a token the server was given")


def read_token_file(path: str) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """Reads a token file: YAML (read safely) with `tokens:` (a list, for every policy) and
    `policies:` (a mapping from policy name to a list of tokens).

    Raises:
        DiagnosticError: the file cannot be read or has the wrong shape (E301 to E303).
    """
    from policy_engine.scenarios.yaml_data import read_yaml_file

    document = read_yaml_file(path)
    data = document.data
    problems: list[Diagnostic] = []

    def where(*keys: str | int) -> tuple[str, int | None, int | None]:
        position = document.locate(keys)
        return path, *(position or (None, None))

    def tokens_at(value: object, *keys: str | int) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(t, str) and t.strip()
                                                  for t in value):
            file, line, column = where(*keys)
            problems.append(Diagnostic("E303", "expected a list of tokens (non-empty text)",
                                       file=file, line=line, column=column,
                                       path="$." + ".".join(str(k) for k in keys)))
            return ()
        return tuple(t.strip() for t in value)

    if not isinstance(data, dict) or set(data) - {"tokens", "policies"}:
        raise DiagnosticError([Diagnostic(
            "E303", "a token file is a mapping with the keys 'tokens' and 'policies'",
            file=path, line=1, column=1)])
    every = tokens_at(data.get("tokens", []), "tokens")
    per_policy: list[tuple[str, tuple[str, ...]]] = []
    policies = data.get("policies", {})
    if not isinstance(policies, dict):
        file, line, column = where("policies")
        problems.append(Diagnostic("E303", "expected a mapping from policy name to tokens",
                                   file=file, line=line, column=column, path="$.policies"))
    else:
        per_policy = [(name, tokens_at(value, "policies", name))
                      for name, value in policies.items()]
    if problems:
        raise DiagnosticError(problems)
    return every, tuple(per_policy)

