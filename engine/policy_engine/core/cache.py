"""Cache: keeps checked policies (and Lark's parser tables) on disk, so that loading an unchanged
policy skips parsing and checking.

`Policy.load` asks `load` for the checked policy of a text before parsing it, and gives the
result to `store` after checking it. An entry is found by a key: the SHA-256 of the policy
text, the name it was loaded under (diagnostics show it), the grammar, every file of the
engine's package and the Python version, so any change to any of them is a miss.

Why pickle is safe here. Unpickling runs code named in the file, so a cache file must never
come from anyone else. These files are written only by this engine, in the user's own cache
directory (`$XDG_CACHE_HOME/policy-engine`, else `~/.cache/policy-engine`), created with mode
0700, each file written with mode 0600 to a temporary name and moved into place with
`os.replace`, so a reader never sees half a file. A directory that is not owned by the user or
that others can write to is not used at all. Whatever goes wrong (no such file, a truncated or
corrupted file, a class that changed, an unwritable directory) is a miss, never an error: the
policy is then parsed and checked as if there were no cache.

`POLICY_ENGINE_CACHE=0` (or `false`, `no`, `off`) turns the cache off; `policy --no-cache`
sets it for one command.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

#: Set to 0 to turn the cache off.
ENVIRONMENT_SWITCH = "POLICY_ENGINE_CACHE"
#: The most entries kept; storing one more removes the least recently used.
MAX_ENTRIES = 64
#: Bumped when the layout of a cache entry changes.
_FORMAT = b"policy-engine-cache 1"
_OFF = frozenset({"0", "false", "no", "off"})


def enabled() -> bool:
    """Whether the cache is on (it is unless `POLICY_ENGINE_CACHE` turns it off)."""
    return os.environ.get(ENVIRONMENT_SWITCH, "1").strip().lower() not in _OFF


def directory() -> Path:
    """Where entries live: `$XDG_CACHE_HOME/policy-engine`, else `~/.cache/policy-engine`."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "policy-engine"


#: The package's own folder: every file under it is part of the engine's fingerprint.
_PACKAGE = Path(__file__).resolve().parent.parent
#: The files whose change makes every entry stale: the code, the grammar, the schemas.
_FINGERPRINTED = (".py", ".lark", ".json")


@functools.lru_cache(maxsize=1)
def engine_fingerprint() -> bytes:
    """A digest of every module, grammar and schema file of the installed package.

    The version alone does not change while the engine is being developed, so the path, size
    and modification time of each file under the package (in every subpackage) are part of the
    key: a cached entry can never outlive the code that made it. Cheap: no file is read.
    """
    digest = hashlib.sha256()
    try:
        for root, dirs, names in os.walk(_PACKAGE):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                if name.endswith(_FINGERPRINTED):
                    info = os.stat(os.path.join(root, name))
                    relative = os.path.relpath(os.path.join(root, name), _PACKAGE)
                    digest.update(f"{relative}:{info.st_size}:{info.st_mtime_ns};".encode())
    except OSError:
        digest.update(b"unlisted")
    return digest.digest()


def key(*parts: str) -> str:
    """The key of an entry made from `parts` (for a policy: its text, the name it was loaded
    under and the grammar) with this engine and this Python."""
    digest = hashlib.sha256(_FORMAT)
    for part in (*parts, sys.version):
        encoded = part.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    digest.update(engine_fingerprint())
    return digest.hexdigest()


def _usable(folder: Path) -> bool:
    """Whether `folder` exists (or can be made) as a private directory of this user."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return False
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return False
    return not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def load(entry_key: str) -> Any | None:
    """The object stored under `entry_key`, or None on a miss (any problem is a miss)."""
    if not enabled():
        return None
    folder = directory()
    path = folder / f"{entry_key}.pickle"
    try:
        info = folder.stat()
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            return None
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        with open(path, "rb") as handle:
            header = handle.read(len(_FORMAT) + 65)
            if header != _FORMAT + b"\n" + entry_key.encode():
                return None
            # Safe to unpickle: see the module docstring (our own file in a private folder).
            value = pickle.load(handle)  # noqa: S301
    except Exception:  # a missing, truncated or corrupted file, or a class that changed
        return None
    try:
        os.utime(path)  # recently used: kept when old entries are removed
    except OSError:
        pass
    return value


def store(entry_key: str, value: object) -> None:
    """Stores `value` under `entry_key`; a cache that cannot be written is silently skipped."""
    if not enabled():
        return
    folder = directory()
    if not _usable(folder):
        return
    temporary: str | None = None
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".pickle", dir=folder)
        with os.fdopen(handle, "wb") as out:  # mkstemp creates the file with mode 0600
            out.write(_FORMAT + b"\n" + entry_key.encode())
            out.write(data)
        os.replace(temporary, folder / f"{entry_key}.pickle")
        temporary = None
        _prune(folder)
    except Exception:  # unwritable, full disk, or an object that cannot be pickled
        return
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _prune(folder: Path) -> None:
    """Removes the least recently used entries beyond `MAX_ENTRIES` (a policy edited often,
    or a new engine, leaves entries that will never be read again)."""
    entries: list[tuple[int, Path]] = []
    for path in folder.glob("*.pickle"):
        try:
            entries.append((path.stat().st_mtime_ns, path))
        except OSError:
            continue
    entries.sort(reverse=True)
    for _, path in entries[MAX_ENTRIES:]:
        try:
            path.unlink()
        except OSError:
            pass
