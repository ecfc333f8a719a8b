"""Scenario diagnostics: a scenario YAML file checked as `policy eval` would, while it is typed.

The YAML and the scenario's shape are checked first; then, when the scenario names a policy,
its facts are validated against that policy's declarations (the policy's text in the editor
if it is open there, else the file), and the facts decided and compared with `expect`. The
positions come from `scenarios.yaml_data`, which records the line and column of every value.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path

from lsprotocol import types

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.files import Confinement, check_policy_name, display_path, repository_root
from policy_engine.lsp.diagnostics import SOURCE, fix_of, message_of
from policy_engine.lsp.documents import Document, DocumentStore, path_of
from policy_engine.lsp.positions import LineIndex
from policy_engine.policy import Policy
from policy_engine.scenarios.runner import decide_scenario
from policy_engine.scenarios.scenario_file import read_scenario
from policy_engine.scenarios.yaml_data import YamlDocument, load_yaml

#: A top-level key only a scenario has: other YAML files (CI settings...) are left alone.
_SCENARIO_KEY = re.compile(r"^(?:facts|policy|expect)[ \t]*:", re.MULTILINE)

#: Line breaks as PyYAML counts lines (which the positions of `yaml_data` are in).
_YAML_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")

_SEVERITY = {"error": types.DiagnosticSeverity.Error,
             "warning": types.DiagnosticSeverity.Warning,
             "note": types.DiagnosticSeverity.Information}


def is_scenario(text: str) -> bool:
    """Whether a YAML text looks like a scenario (it has `facts:`, `policy:` or `expect:`)."""
    return _SCENARIO_KEY.search(text) is not None


def scenario_diagnostics(document: Document, store: DocumentStore,
                         roots: Sequence[str] = ()) -> list[types.Diagnostic]:
    """What `policy eval` would report about a scenario text, placed on its YAML lines.

    Args:
        roots: the editor's workspace folders: a scenario may name a policy in them (and in
            the repository the scenario is in), as `policy eval` confines it.
    """
    if not is_scenario(document.text):
        return []
    place = _Placer(document)
    path = path_of(document.uri) or document.name
    try:
        yaml = load_yaml(document.text, document.name)
        scenario = read_scenario(yaml, path)
    except DiagnosticError as error:
        return place.all(error.diagnostics)
    if scenario.policy is None:
        return []  # nothing to check the facts against (policy eval --policy can name one)
    policy, problems = _policy_named(scenario.policy, yaml, store, roots, path)
    if policy is None:
        return [place.policy_problem(d, scenario.policy, yaml) for d in problems[:1]]
    try:
        result = decide_scenario(scenario, policy, document.name)
    except DiagnosticError as error:
        return place.all(error.diagnostics, at=("facts",), yaml=yaml)
    found = [place.mismatch(text, yaml) for text in result.mismatches]
    if result.refused_unexpectedly:  # the policy's answer, but the scenario did not expect it
        return place.all(result.decision.refusal, at=("facts",), yaml=yaml)
    if found and result.decision.refused:
        # Invalid facts where a refusal is expected: `policy eval` reports the codes in the
        # mismatch, an editor shows each on the fact it is about as well.
        located = [d for d in result.decision.refusal if d.line is not None]
        found = place.all(located, at=("facts",), yaml=yaml) + found
    return found


def _policy_named(policy_path: str, yaml: YamlDocument, store: DocumentStore,
                  roots: Sequence[str], path: str) -> tuple[Policy | None, list[Diagnostic]]:
    folder = os.path.dirname(os.path.abspath(path))
    confinement = Confinement(tuple(dict.fromkeys(
        os.path.realpath(root) for root in (repository_root(folder), folder, *roots))))
    try:
        check_policy_name(policy_path)
        confinement.check(policy_path, "the policy it names", where=(
            yaml.name, yaml.locate(("policy",)), "$.policy"))
        text = store.policy_text(policy_path)
    except DiagnosticError as error:
        return None, list(error.diagnostics)
    return _load(text, display_path(policy_path))


@functools.lru_cache(maxsize=8)
def _load(text: str, name: str) -> tuple[Policy | None, list[Diagnostic]]:
    try:
        return Policy.from_text(text, name), []
    except DiagnosticError as error:
        return None, list(error.diagnostics)
    except RecursionError:
        return None, []


class _Placer:
    """Turns diagnostics with YAML lines and columns into LSP diagnostics on the document."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.lines = document.lines
        text = document.text
        self.bom = 1 if text.startswith("\ufeff") else 0  # yaml_data reads past it
        body = text[self.bom:]
        self.starts = [0] + [match.end() for match in _YAML_BREAK.finditer(body)]

    def offset(self, line: int, column: int) -> int:
        """The character offset of a 1-based YAML line and column."""
        if not 1 <= line <= len(self.starts):
            return len(self.document.text)
        return self.bom + self.starts[line - 1] + max(0, column - 1)

    def span_at(self, line: int | None, column: int | None, path: str | None) -> tuple[int, int]:
        """The value at a position: to the end of its quoted text, or of its line (before a
        comment); for an unknown key, the key itself."""
        text = self.document.text
        if line is None:
            return 0, 0
        start = min(self.offset(line, column or 1), len(text))
        end = len(text)
        for stop in ("\n", "\r"):
            found = text.find(stop, start)
            end = min(end, found) if found >= 0 else end
        value = text[start:end]
        if value[:1] in "\"'" and value[1:].find(value[:1]) >= 0:
            end = start + value[1:].find(value[:1]) + 2
        else:
            comment = value.find(" #")
            end = start + len((value if comment < 0 else value[:comment]).rstrip())
        key = path.rsplit(".", 1)[-1] if path and "." in path else None
        if key:  # the key of the value, when it is on the same line before it
            line_start = text.rfind("\n", 0, start) + 1
            found = text.rfind(key, line_start, start)
            if found >= 0 and text[found + len(key):start].lstrip().startswith(":"):
                return found, found + len(key)
        return start, max(end, start + 1) if start < len(text) else start

    def convert(self, diagnostic: Diagnostic, *, key: bool = False,
                fallback: tuple[int, int] = (0, 0)) -> types.Diagnostic:
        if diagnostic.line is not None:
            start, end = self.span_at(diagnostic.line, diagnostic.column,
                                      diagnostic.path if key else None)
        else:
            start, end = fallback
        fix = fix_of(diagnostic)
        return types.Diagnostic(
            range=types.Range(self.lines.position(start), self.lines.position(end)),
            message=(f"{diagnostic.path}: " if diagnostic.path else "") + message_of(diagnostic),
            severity=_SEVERITY[diagnostic.severity.value], code=diagnostic.code, source=SOURCE,
            data={"fix": fix} if fix else None)

    def all(self, diagnostics: Sequence[Diagnostic], at: tuple[str, ...] | None = None,
            yaml: YamlDocument | None = None) -> list[types.Diagnostic]:
        fallback = (0, 0)
        if at is not None and yaml is not None:
            position = yaml.locate(at)
            if position is not None:
                fallback = self.span_at(*position, None)
        # An unknown fact's "did you mean" replaces the key, so the key is what is underlined.
        return [self.convert(d, key=d.code == "E305", fallback=fallback) for d in diagnostics]

    def policy_problem(self, diagnostic: Diagnostic, policy_path: str,
                       yaml: YamlDocument) -> types.Diagnostic:
        """A problem with the policy the scenario names, shown on its `policy:` line."""
        position = yaml.locate(("policy",))
        span = self.span_at(*position, None) if position else (0, 0)
        related = None
        if diagnostic.source is not None and diagnostic.span is not None:
            lines = LineIndex(diagnostic.source.text, self.lines.encoding)
            uri = Path(os.path.abspath(policy_path)).as_uri()
            related = [types.DiagnosticRelatedInformation(
                types.Location(uri, lines.range(diagnostic.span)), message_of(diagnostic))]
            file, line, column = diagnostic.location()
            message = (f"the policy it names has an error: {file}:{line}:{column}: "
                       f"{diagnostic.message}")
        else:
            message = message_of(diagnostic)
        return types.Diagnostic(
            range=types.Range(self.lines.position(span[0]), self.lines.position(span[1])),
            message=message, severity=types.DiagnosticSeverity.Error, code=diagnostic.code,
            source=SOURCE, related_information=related)

    def mismatch(self, text: str, yaml: YamlDocument) -> types.Diagnostic:
        """An expectation the decision does not meet, on the `expect` line it is about."""
        field = text.split(":", 1)[0].strip()  # "decision", "rule", "error", "output NAME"
        path = ("expect", "outputs", field[7:]) if field.startswith("output ") else (
            "expect", field)
        position = yaml.locate(path) or yaml.locate(("expect",))
        span = self.span_at(*position, None) if position else (0, 0)
        return types.Diagnostic(
            range=types.Range(self.lines.position(span[0]), self.lines.position(span[1])),
            message=f"expectation not met: {text}", severity=types.DiagnosticSeverity.Warning,
            source=SOURCE)
