"""Snapshots: each scenario's decision and explanation locked in a Markdown file, so that any
change to a policy shows up in review as a diff (`policy test --update`, docs/reviewing.md).

A snapshot is the Markdown of `policy eval --format markdown` for one scenario. It lives in a
`__snapshots__` folder beside the scenario (`refunds/late.yaml` has
`refunds/__snapshots__/late.md`), or under a folder the user names, at the scenario's path
from the repository's top folder. `policy test` compares every scenario that has one; where
snapshots are kept, a scenario without one fails until `policy test --update` writes it.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.explain.render import render_markdown
from policy_engine.scenarios.runner import ScenarioResult

#: The folder beside a scenario that holds its snapshot.
FOLDER = "__snapshots__"
SUFFIX = ".md"


@dataclass(frozen=True)
class Snapshots:
    """Where snapshots are kept, and whether to write them.

    Args:
        folder: the folder named by `--snapshots`, or None for `__snapshots__` beside each
            scenario.
        update: write every snapshot (and remove those of scenarios that are gone) instead
            of comparing.
    """

    folder: str | None = None
    update: bool = False

    def path(self, scenario: str) -> str:
        """The snapshot file of a scenario file."""
        stem = os.path.splitext(scenario)[0]
        if self.folder is None:
            return os.path.join(os.path.dirname(stem), FOLDER, os.path.basename(stem) + SUFFIX)
        relative = os.path.relpath(os.path.abspath(stem))
        parts = [part for part in relative.split(os.sep) if part not in ("", ".", "..")]
        return os.path.join(self.folder, *parts) + SUFFIX

    def kept_for(self, scenario: str) -> bool:
        """Whether snapshots are kept where this scenario's would be: then a missing one is a
        failure, not a scenario that opted out."""
        if self.folder is not None:
            return os.path.isdir(self.folder)
        return os.path.isdir(os.path.dirname(self.path(scenario)))


@dataclass(frozen=True)
class SnapshotOutcome:
    """What became of one scenario's snapshot.

    Args:
        status: 'same', 'differs', 'missing' (kept there, but none for it), 'written',
            'unchanged' (update: it was already right) or 'none' (no snapshots kept there).
        diff: for 'differs', the unified diff from the snapshot to the result.
    """

    path: str
    status: str
    diff: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("differs", "missing")

    def mismatch(self) -> str:
        """The line `policy test` shows for a failed snapshot."""
        if self.status == "missing":
            return f"snapshot: none in {self.path}; run 'policy test --update' to write it"
        return (f"snapshot: the result differs from {self.path}; review the diff, and run "
                "'policy test --update' to accept it")


def markdown(result: ScenarioResult) -> str:
    """A snapshot's text: the result as `policy eval --format markdown` shows it."""
    return render_markdown([result.report()])


def settle(result: ScenarioResult, snapshots: Snapshots) -> SnapshotOutcome:
    """Compares a scenario's result with its snapshot, or writes the snapshot (`update`).

    Raises:
        DiagnosticError: E301 a snapshot cannot be read, E312 it cannot be written.
    """
    path = snapshots.path(result.scenario)
    text = markdown(result)
    old = _read(path)
    if snapshots.update:
        if old == text:
            return SnapshotOutcome(path, "unchanged")
        _write(path, text)
        return SnapshotOutcome(path, "written")
    if old is None:
        status = "missing" if snapshots.kept_for(result.scenario) else "none"
        return SnapshotOutcome(path, status)
    if old == text:
        return SnapshotOutcome(path, "same")
    diff = "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        text.splitlines(keepends=True),
                                        fromfile=path, tofile=f"{result.scenario} (now)"))
    return SnapshotOutcome(path, "differs", diff)


def obsolete(scenarios: list[str], snapshots: Snapshots) -> list[str]:
    """Snapshot files in the folders these scenarios use that belong to no scenario found:
    left behind by a scenario that was renamed or removed."""
    wanted = {os.path.abspath(snapshots.path(s)) for s in scenarios}
    folders = {os.path.dirname(path) for path in wanted}
    found = []
    for folder in sorted(folders):
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if name.endswith(SUFFIX) and os.path.isfile(path) and path not in wanted:
                found.append(os.path.relpath(path))
    return found


def remove(path: str) -> None:
    """Removes an obsolete snapshot file."""
    try:
        os.unlink(path)
    except OSError as error:
        raise DiagnosticError([Diagnostic("E312", f"cannot remove: {error.strerror}",
                                          file=path)]) from None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise DiagnosticError([Diagnostic("E301", f"cannot read the snapshot: {reason}",
                                          file=path)]) from None


def _write(path: str, text: str) -> None:
    folder = os.path.dirname(path) or "."
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise DiagnosticError([Diagnostic("E312", f"cannot write: {error.strerror}",
                                          file=path)]) from None
