"""The cache's SHA-256 comes from whichever module this Python has, and is always the same digest.

`core/cache.py` takes SHA-256 from CPython's own `_sha256` (3.11) or `_sha2` (3.12+) to keep
OpenSSL out of `policy eval`'s start-up, and falls back to `hashlib`. Only one of those paths
runs on any one Python, so each is forced here in a fresh interpreter with the others made
unimportable, and the cache key it computes must equal the one computed with `hashlib`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

_PROGRAM = """
import json, sys
for name in json.loads(sys.argv[1]):
    sys.modules[name] = None  # importing it now raises ImportError
from policy_engine.core import cache
digest = cache.sha256(b"refund policy").hexdigest()
print(json.dumps([cache.sha256.__module__, digest]))
"""

_EXPECTED = hashlib.sha256(b"refund policy").hexdigest()


@pytest.mark.parametrize(
    ("blocked", "modules"),
    [
        ([], {"_sha256", "_sha2"}),
        (["_sha256"], {"_sha2", "_hashlib"}),
        (["_sha256", "_sha2"], {"_hashlib"}),
    ],
    ids=["first-choice", "without-_sha256", "hashlib-only"],
)
def test_every_fallback_gives_the_same_digest(blocked: list[str], modules: set[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, json.dumps(blocked)],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    module, digest = json.loads(done.stdout)
    assert module in modules  # the path this case forces is the one that ran
    assert digest == _EXPECTED
