"""Policy registry: the policies a server answers for, reloaded from their files as they change.

A background thread looks at the policy files every `reload_interval` seconds. A file whose
text changed is read and checked off the request path (its hot-loop code compiled too); if it
is valid, the new version replaces the old one in one assignment of a new, immutable
`Snapshot`, so a request that took the old snapshot finishes on the old version. If it is not
valid, the last good version keeps serving and the diagnostics are kept for
`GET /v1/policies/{name}`. A deleted file is served for `deleted_grace` seconds more. Two files
that declare the same policy name are a conflict: a name already served keeps its file, and
a name no file served before is not served until only one file claims it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, render_all
from policy_engine.core.files import POLICY_SUFFIXES, find_files, read_text
from policy_engine.explain.decision import Decision
from policy_engine.policy import MAX_POLICY_BYTES, Policy

log = logging.getLogger("policy_engine.serve")

_NAME = re.compile(r"^\s*policy\s+([A-Za-z_][A-Za-z0-9_]*)", re.M)


def utc_text(seconds: float) -> str:
    """A moment as ISO 8601 UTC text with microseconds, as the decision log writes it."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, eq=False)
class ServedPolicy:
    """One version of a policy, ready to answer: checked, its hot-loop code compiled.

    Args:
        file: the file's path relative to the folder served (what clients see; never the
            server's own paths).
        sha256: the SHA-256 of the policy text, in hex.
        loaded_at: when this version started serving (ISO 8601 UTC).
    """

    policy: Policy
    file: str
    sha256: str
    loaded_at: str
    schema: dict[str, Any] = field(repr=False)
    decide_validated: Callable[..., Decision] = field(repr=False)
    #: JSON text this version gives again and again (results, trace summaries), by key.
    cache: dict[object, bytes] = field(default_factory=dict, repr=False)
    #: The decision log's `policy` object, as JSON text.
    log_policy: bytes = field(default=b"", repr=False)

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def version(self) -> str | None:
        return self.policy.version

    @property
    def title(self) -> str | None:
        return self.policy.title

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "title": self.title,
                "sha256": self.sha256, "loaded_at": self.loaded_at, "file": self.file}


def build(text: str, shown: str, now: float) -> ServedPolicy:
    """Checks a policy text and compiles its hot-loop code.

    Raises:
        DiagnosticError: the policy is invalid.
    """
    policy = Policy.from_text(text, shown)
    # Compiled here, off the request path, once per version: the hot-loop function and the
    # validator that `evaluate(engine="compiled")` uses.
    policy.decider()
    try:
        policy.evaluate({}, engine="compiled")
    except DiagnosticError:
        pass
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    log_policy = json.dumps({"name": policy.name, "version": policy.version, "sha256": digest},
                            separators=(",", ":")).encode("ascii")
    return ServedPolicy(policy, shown, digest, utc_text(now), policy.schema(),
                        policy.decider(validated=True), log_policy=log_policy)


@dataclass(frozen=True)
class FileState:
    """What the registry knows of one policy file.

    Args:
        good: the last version of the file that checked (None if it never did).
        problem: why the file's current text is not served: its diagnostics, the moment
            they were found and the text's SHA-256; None when the current text is served.
        deleted_at: when the file was found gone; it is served until the grace ends.
        signature: the file's size, modification time and inode when last read.
    """

    path: str
    shown: str
    sha256: str | None = None
    good: ServedPolicy | None = None
    problem: tuple[tuple[Diagnostic, ...], str, str | None] | None = None
    guessed_name: str | None = None
    deleted_at: float | None = None
    signature: tuple[int, int, int] | None = None

    @property
    def name(self) -> str:
        if self.good is not None:
            return self.good.name
        return self.guessed_name or os.path.splitext(os.path.basename(self.path))[0]


@dataclass(frozen=True)
class Snapshot:
    """The registry at one moment: immutable, taken whole by each request.

    Args:
        served: policy name to the version that answers for it.
        files: every file known, by path.
        conflicts: policy name to the files that claim it when more than one does.
    """

    served: Mapping[str, ServedPolicy]
    files: Mapping[str, FileState]
    conflicts: Mapping[str, tuple[str, ...]]
    deleted_grace: float

    def status(self, name: str) -> dict[str, Any] | None:
        """What `GET /v1/policies/{name}` shows, or None when no file is known by the name."""
        claimants = [f for f in self.files.values() if f.name == name]
        served = self.served.get(name)
        if served is None and not claimants:
            return None
        own = next((f for f in claimants if served is not None and f.good is served), None)
        if served is None:
            state = "conflict" if name in self.conflicts else "rejected"
        elif own is not None and own.deleted_at is not None:
            state = "deleted"
        elif own is not None and own.problem is not None:
            state = "serving_last_good"
        else:
            state = "serving"
        result: dict[str, Any] = {"name": name, "state": state, "serving": served is not None}
        result.update(served.describe() if served is not None else
                      {"version": None, "title": None, "sha256": None, "loaded_at": None,
                       "file": None})
        if own is not None and own.deleted_at is not None:
            result["deleted_at"] = utc_text(own.deleted_at)
            result["served_until"] = utc_text(own.deleted_at + self.deleted_grace)
        result["problems"] = [
            {"file": f.shown, "found_at": f.problem[1], "sha256": f.problem[2],
             "diagnostics": [d.to_json() for d in f.problem[0]]}
            for f in sorted(claimants, key=lambda f: f.shown) if f.problem is not None]
        return result

    def problems(self) -> list[dict[str, Any]]:
        """The files not served as they are now, for `GET /v1/policies`."""
        return [{"file": f.shown, "name": f.name,
                 "state": "conflict" if f.name in self.conflicts and f.good is not None
                 else "rejected",
                 "serving_last_good": self.served.get(f.name) is f.good and f.good is not None}
                for f in sorted(self.files.values(), key=lambda f: f.shown)
                if f.problem is not None]


def _shown_name(root: str, path: str) -> str:
    if os.path.isdir(root):
        return os.path.relpath(path, root).replace(os.sep, "/")
    return os.path.basename(path)


class Registry:
    """The policies served from some folders and files, kept up to date by `start()`.

    Args:
        paths: folders (walked for `.policy` files) and policy files.
        reload_interval: seconds between looks at the files.
        deleted_grace: seconds a deleted file's policy is still served.
        on_reload: called with (policy name, result) for each change: `applied`, `rejected`,
            `removed`.
    """

    def __init__(self, paths: Iterable[str], *, reload_interval: float = 1.0,
                 deleted_grace: float = 30.0,
                 on_reload: Callable[[str, str], None] | None = None) -> None:
        self.paths = tuple(paths)
        self.reload_interval = reload_interval
        self.deleted_grace = deleted_grace
        self._on_reload = on_reload or (lambda name, result: None)
        self.snapshot = Snapshot({}, {}, {}, deleted_grace)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scan_lock = threading.Lock()

    # ------------------------------------------------------------ the watcher
    def start(self) -> None:
        """Starts the background thread that reloads changed files."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="policy-reload",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self.reload_interval):
            try:
                self.scan()
            except Exception:  # the watcher must outlive any one bad look at the files
                log.exception("policy reload failed; the policies served are unchanged")

    # ------------------------------------------------------------ one look
    def _listing(self) -> dict[str, str]:
        """Every policy file now present: path to the name clients see."""
        found: dict[str, str] = {}
        for root in self.paths:
            if os.path.isdir(root):
                for path in find_files([root], POLICY_SUFFIXES):
                    found[path] = _shown_name(root, path)
            elif os.path.exists(root):
                found[root] = _shown_name(root, root)
        return found

    def scan(self) -> Snapshot:
        """Looks at every file once, loads what changed, and publishes a new snapshot."""
        with self._scan_lock:
            now = time.time()
            old = self.snapshot
            files = dict(old.files)
            for path, shown in self._listing().items():
                files[path] = self._look(files.get(path) or FileState(path, shown), now)
            for path, state in list(files.items()):
                if os.path.exists(path):
                    continue
                if state.deleted_at is None:
                    files[path] = replace(state, deleted_at=now, signature=None)
                    log.warning("policy file %s was deleted; %s is served for %gs more",
                                state.shown, state.name, self.deleted_grace)
                elif now - state.deleted_at >= self.deleted_grace:
                    del files[path]
            snapshot = self._publish(old, files)
            self.snapshot = snapshot  # one assignment: requests see the old or the new
            return snapshot

    def _look(self, state: FileState, now: float) -> FileState:
        try:
            info = os.stat(state.path)
        except OSError:
            return state
        signature = (info.st_size, info.st_mtime_ns, info.st_ino)
        # A file rewritten twice within the clock's resolution keeps its signature; a file
        # changed lately is read again each time, so such an edit is still seen.
        recent = now - info.st_mtime_ns / 1e9 < 2 * self.reload_interval + 1
        if signature == state.signature and state.deleted_at is None and not recent:
            return state
        try:
            text = read_text(state.path, MAX_POLICY_BYTES)
        except DiagnosticError as error:
            return self._rejected(state, error.diagnostics, None, None, signature, now)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        state = replace(state, signature=signature, deleted_at=None)
        if digest == state.sha256:
            return state
        try:
            served = build(text, state.shown, now)
        except DiagnosticError as error:
            guess = _NAME.search(text)
            return self._rejected(state, error.diagnostics, digest,
                                  guess.group(1) if guess else None, signature, now)
        except RecursionError:  # pragma: no cover - the checker reports deep nesting itself
            return self._rejected(state, (), digest, None, signature, now)
        return replace(state, sha256=digest, good=served, problem=None)

    def _rejected(self, state: FileState, diagnostics: tuple[Diagnostic, ...],
                  digest: str | None, guess: str | None, signature: tuple[int, int, int],
                  now: float) -> FileState:
        errors = tuple(d for d in diagnostics if d.is_error) or diagnostics
        kept = "the last good version keeps serving" if state.good is not None \
            else "it is not served"
        log.warning("policy file %s was rejected; %s:\n%s", state.shown, kept,
                    render_all(errors))
        self._on_reload(state.name if state.good is not None else (guess or state.name),
                        "rejected")
        return replace(state, sha256=digest, signature=signature,
                       problem=(errors, utc_text(now), digest),
                       guessed_name=guess or state.guessed_name)

    def _publish(self, old: Snapshot, files: dict[str, FileState]) -> Snapshot:
        claims: dict[str, list[FileState]] = {}
        for state in files.values():
            if state.good is not None:
                claims.setdefault(state.good.name, []).append(state)
        served: dict[str, ServedPolicy] = {}
        conflicts: dict[str, tuple[str, ...]] = {}
        for name, claimants in sorted(claims.items()):
            if len(claimants) == 1:
                served[name] = claimants[0].good  # type: ignore[assignment]
                continue
            conflicts[name] = tuple(sorted(s.shown for s in claimants))
            previous = old.served.get(name)
            keeper = next((s for s in claimants
                           if previous is not None and s.shown == previous.file), None)
            for state in claimants:
                if state is keeper:
                    served[name] = state.good  # type: ignore[assignment]
                elif state.problem is None or state.problem[0][0].code != "E505":
                    files[state.path] = replace(state, problem=(
                        (conflict(name, state.shown, conflicts[name], keeper),),
                        utc_text(time.time()), state.sha256))
        for name, policy in served.items():
            before = old.served.get(name)
            if before is not policy:
                self._announce(name, policy, before)
        for name in old.served:
            if name not in served:
                log.warning("policy %s is no longer served", name)
                self._on_reload(name, "removed")
        # A file whose conflict is over is served again without a problem.
        for path, state in files.items():
            if state.problem is not None and state.problem[0] and \
                    state.problem[0][0].code == "E505" and state.good is not None and \
                    state.good.name not in conflicts:
                files[path] = replace(state, problem=None)
        return Snapshot(served, files, conflicts, self.deleted_grace)

    def _announce(self, name: str, policy: ServedPolicy, before: ServedPolicy | None) -> None:
        if before is None:
            log.info("serving %s %s from %s (sha256 %s)", name, policy.version or "",
                     policy.file, policy.sha256[:12])
        else:
            log.info("reloaded %s: %s -> %s from %s (sha256 %s)", name, before.version or "",
                     policy.version or "", policy.file, policy.sha256[:12])
        if before is not None:
            self._on_reload(name, "applied")


def conflict(name: str, shown: str, files: tuple[str, ...],
             keeper: FileState | None) -> Diagnostic:
    """E505: a policy name claimed by more than one file."""
    others = ", ".join(f for f in files if f != shown)
    served = (f"{keeper.shown} keeps serving it" if keeper is not None
              else "none of them is served until only one file declares it")
    return Diagnostic("E505", f"policy '{name}' is also declared in {others}; {served}",
                      file=shown, help="give each policy file its own policy name, or "
                                       "move the other file out of the folder served")
