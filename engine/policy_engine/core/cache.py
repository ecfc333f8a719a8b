"""Cache: keeps checked policies (and Lark's parser tables) on disk, so that loading an unchanged
policy skips parsing and checking.

`Policy.load` asks `load` for the checked policy of a text before parsing it, and gives the
result to `store` after checking it. An entry is found by a key: the SHA-256 of the policy
text, the name it was loaded under (diagnostics show it), the grammar, every file of the
engine's package and the Python version, so any change to any of them is a miss.

The threat model (docs/cli.md, "The cache of checked policies"). Entries are pickles, and
unpickling a file someone else wrote could run their code, so an entry is trusted only if it
is our own file in our own private folder, checked on what was opened, never on a path that
could be swapped in between:

- the folder (`$XDG_CACHE_HOME/policy-engine`, else `~/.cache/policy-engine`) is opened
  without following a link, and the opened folder must be ours and writable by no one else;
- an entry is opened relative to that open folder, without following a link and without
  blocking, and the opened file must be a regular file, ours, writable by no one else, and
  not larger than `MAX_ENTRY_BYTES`;
- the whole entry is checked against the SHA-256 written in its header before anything is
  unpickled, so a truncated or damaged entry is a miss, never a wrong answer;
- the unpickler only builds the engine's own data classes, `Decimal` and dates: an entry that
  names anything else (a function to call) is a miss.

Entries are written the same way: to a new file created in the open folder with mode 0600
(never through a link), then moved into place, so a reader never sees half a file. Whatever
goes wrong is a miss, never an error: the policy is then parsed and checked as if there were
no cache. `POLICY_ENGINE_CACHE=0` (or `false`, `no`, `off`) turns the cache off; `policy
--no-cache` sets it for one command.
"""

from __future__ import annotations

import _pickle
import contextlib
import dataclasses
import functools
import gc
import io
import operator
import os
import stat
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

# SHA-256 from Python's own module, not `hashlib`'s OpenSSL binding: loading OpenSSL was a
# twentieth of `policy eval`'s start-up (issue 20); the digest is the same. (The C pickler is
# imported for the same reason: `pickle` is its Python face, needed only to store an entry.)
if TYPE_CHECKING:
    from hashlib import sha256
else:
    try:
        from _sha256 import sha256  # Python 3.11
    except ImportError:  # pragma: no cover - other Pythons
        try:
            from _sha2 import sha256  # Python 3.12+
        except ImportError:
            from hashlib import sha256

#: Set to 0 to turn the cache off.
ENVIRONMENT_SWITCH = "POLICY_ENGINE_CACHE"
#: The most entries kept; storing one more removes the least recently used.
MAX_ENTRIES = 64
#: Bumped when the layout of a cache entry changes.
_FORMAT = b"policy-engine-cache 2"
_OFF = frozenset({"0", "false", "no", "off"})


def enabled() -> bool:
    """Whether the cache is on (it is unless `POLICY_ENGINE_CACHE` turns it off)."""
    return os.environ.get(ENVIRONMENT_SWITCH, "1").strip().lower() not in _OFF


def directory() -> str:
    """Where entries live: `$XDG_CACHE_HOME/policy-engine`, else `~/.cache/policy-engine`.
    (Paths here are strings: `pathlib` is not among what `policy eval` imports.)"""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = base if os.path.isabs(base) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "policy-engine")


#: The package's own folder: every file under it is part of the engine's fingerprint.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
#: The files whose change makes every entry stale: the code, the grammar, the schemas.
_FINGERPRINTED = (".py", ".lark", ".json")


@functools.lru_cache(maxsize=1)
def engine_fingerprint() -> bytes:
    """A digest of every module, grammar and schema file of the installed package.

    The version alone does not change while the engine is being developed, so the path, size
    and modification time of each file under the package (in every subpackage) are part of the
    key: a cached entry can never outlive the code that made it. Cheap: no file is read.
    """
    digest = sha256()
    try:
        digest.update("".join(_listed(str(_PACKAGE), "")).encode())
    except OSError:
        digest.update(b"unlisted")
    return digest.digest()


def _listed(folder: str, relative: str) -> Iterator[str]:
    """`path:size:mtime;` of each fingerprinted file under `folder`, by name, a folder's own
    files before its subfolders' (as `os.walk` goes). Every `policy eval` runs this: names are
    joined by hand and each file is stat'ed once."""
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=_NAME)
    folders = []
    for entry in entries:
        if entry.is_dir():
            if entry.name != "__pycache__":
                folders.append(entry)
        elif entry.name.endswith(_FINGERPRINTED):
            info = entry.stat()
            yield f"{relative}{entry.name}:{info.st_size}:{info.st_mtime_ns};"
    for entry in folders:
        yield from _listed(entry.path, f"{relative}{entry.name}{os.sep}")


_NAME = operator.attrgetter("name")


def key(*parts: str) -> str:
    """The key of an entry made from `parts` (for a policy: its text, the name it was loaded
    under and the grammar) with this engine and this Python."""
    digest = sha256(_FORMAT)
    for part in (*parts, sys.version):
        encoded = part.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    digest.update(engine_fingerprint())
    return digest.hexdigest()


#: The largest entry read; a larger file is a miss (a real entry of 10,000 rules is ~20 MB).
MAX_ENTRY_BYTES = 256 * 1024 * 1024
_DIGEST = sha256().digest_size
#: Open without following a link in the last step (where the system has it).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def _private(info: os.stat_result) -> bool:
    """Whether an opened file or folder belongs to this user and no one else may write it."""
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return False
    return not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _open_folder(create: bool) -> int | None:
    """A descriptor of the cache folder when it is ours and private, else None."""
    folder = directory()
    if create:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        except OSError:
            return None
    try:
        descriptor = os.open(folder, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(descriptor)
    except OSError:
        os.close(descriptor)
        return None
    if not stat.S_ISDIR(info.st_mode) or not _private(info):
        os.close(descriptor)
        return None
    return descriptor


#: What an entry may build: the engine's own data classes, exact numbers and dates.
_ALLOWED_MODULES = frozenset({"policy_engine.check.checked", "policy_engine.check.types",
                              "policy_engine.core.source", "policy_engine.core.diagnostics"})
_ALLOWED_NAMES = frozenset({("decimal", "Decimal"), ("datetime", "date"),
                            ("datetime", "timedelta"), ("builtins", "frozenset"),
                            ("builtins", "set")})


class _Unpickler(_pickle.Unpickler):
    """Builds only the classes an entry may hold; anything else ends the load (a miss)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_NAMES:
            return super().find_class(module, name)
        if module in _ALLOWED_MODULES:
            found = super().find_class(module, name)
            if isinstance(found, type) and found.__module__ == module:
                return found
        raise _pickle.UnpicklingError(f"{module}.{name} is not allowed in a cache entry")


def _header(entry_key: str) -> bytes:
    return _FORMAT + b"\n" + entry_key.encode()


def load(entry_key: str) -> Any | None:
    """The object stored under `entry_key`, or None on a miss (any problem is a miss)."""
    if not enabled():
        return None
    folder = _open_folder(create=False)
    if folder is None:
        return None
    name = f"{entry_key}.pickle"
    try:
        descriptor = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=folder)
    except OSError:
        os.close(folder)
        return None
    try:
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if (not stat.S_ISREG(info.st_mode) or not _private(info)
                    or info.st_size > MAX_ENTRY_BYTES):
                return None
            data = handle.read(MAX_ENTRY_BYTES + 1)
        header = _header(entry_key)
        body = data[len(header) + _DIGEST:]
        if (data[:len(header)] != header
                or data[len(header):len(header) + _DIGEST] != sha256(body).digest()):
            return None
        value = _unpickle(body)
        try:
            os.utime(name, dir_fd=folder)  # recently used: kept when old entries are removed
        except (OSError, NotImplementedError):
            pass
        return value
    except Exception:  # a damaged entry, a class that changed, a class that is not allowed
        return None
    finally:
        os.close(folder)


def _unpickle(body: bytes) -> Any:
    """The object in an entry's checked body, built with the garbage collector paused.

    Unpickling a large policy makes hundreds of thousands of objects and no garbage; with the
    collector running, its passes over them made loading 10,000 rules from the cache take
    four times as long as unpickling itself (slower than parsing the policy again).
    """
    with collector_paused():
        return _Unpickler(io.BytesIO(body)).load()


#: Objects made while the collector was paused above which they are frozen (`collector_paused`).
FREEZE_AFTER = 100_000
#: Not empty once `collector_paused` has frozen objects in this process.
_froze: list[bool] = []


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pauses the garbage collector while a policy is built (parsed and checked, or unpickled).

    Building makes many objects and no garbage cycles worth finding. When the collector comes
    back, its next pass would go over every object made while it was paused: for a policy of
    10,000 rules, half a million objects and 0.3 s at the first allocation, then again when
    they reach the older generations. So when more than `FREEZE_AFTER` objects were made,
    `gc.freeze()` moves everything alive to the collector's permanent generation, which no
    pass visits again, as a server does before forking. Those objects are still freed when
    no longer referenced, but a garbage cycle among them would stay, and everything alive is
    frozen, not only what the load made: the policy a server is about to replace, with the
    cycles of its generated code. So a load that freezes after an earlier one did first
    gives the frozen objects back and collects them once (a full pass, as the collector would
    have made anyway): a process that reloads big policies keeps at most one version's
    garbage, instead of every version's. A caller that paused the collector itself keeps it
    paused, and nothing is frozen.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            if gc.get_count()[0] > FREEZE_AFTER:
                if _froze:  # an earlier load's objects, now maybe garbage, are frozen too
                    gc.unfreeze()
                    gc.collect()
                gc.freeze()
                _froze.append(True)
            gc.enable()


def pickled_by_fields(*classes: type) -> None:
    """Makes instances of the slotted frozen dataclasses `classes` pickle as a call of their
    class with their fields, in order.

    A dataclass with `slots=True` and `frozen=True` otherwise unpickles through its generic
    `__setstate__`, which looks up its fields again for every object: most of the time of
    loading a large policy from the cache went there. The classes must take every field in
    their `__init__` and do nothing else in it (no `__post_init__`), so that calling the class
    rebuilds exactly the object that was stored; the unpickler still builds only the classes
    `_ALLOWED_MODULES` names.
    """
    for cls in classes:
        names = [item.name for item in dataclasses.fields(cls)]
        if not all(item.init for item in dataclasses.fields(cls)) \
                or hasattr(cls, "__post_init__"):
            raise TypeError(f"{cls.__name__} cannot be rebuilt from its fields")
        getter = operator.attrgetter(*names) if len(names) > 1 else None

        def reduce(self: Any, cls: type = cls, getter: Any = getter,
                   names: list[str] = names) -> tuple[type, tuple[Any, ...]]:
            if getter is not None:
                return cls, getter(self)
            return cls, tuple(getattr(self, name) for name in names)

        cls.__reduce__ = reduce  # type: ignore[assignment]


def store(entry_key: str, value: object) -> None:
    """Stores `value` under `entry_key`; a cache that cannot be written is silently skipped."""
    if not enabled():
        return
    folder = _open_folder(create=True)
    if folder is None:
        return
    import pickle  # only when storing: `policy eval` from the cache never needs them
    import secrets

    temporary: str | None = None
    try:
        body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        temporary = f".tmp-{os.getpid()}-{secrets.token_hex(8)}.pickle"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW,
                             0o600, dir_fd=folder)
        with os.fdopen(descriptor, "wb") as out:
            out.write(_header(entry_key) + sha256(body).digest())
            out.write(body)
        os.replace(temporary, f"{entry_key}.pickle", src_dir_fd=folder, dst_dir_fd=folder)
        temporary = None
        _prune(folder)
    except Exception:  # unwritable, full disk, or an object that cannot be pickled
        return
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary, dir_fd=folder)
            except OSError:
                pass
        os.close(folder)


def _prune(folder: int) -> None:
    """Removes the least recently used entries beyond `MAX_ENTRIES` (a policy edited often,
    or a new engine, leaves entries that will never be read again), in the open folder."""
    entries: list[tuple[int, str]] = []
    for name in os.listdir(folder):
        if not name.endswith(".pickle") or name.startswith(".tmp-"):
            continue
        try:
            entries.append((os.stat(name, dir_fd=folder, follow_symlinks=False).st_mtime_ns,
                            name))
        except OSError:
            continue
    entries.sort(reverse=True)
    for _, name in entries[MAX_ENTRIES:]:
        try:
            os.unlink(name, dir_fd=folder)
        except OSError:
            pass
