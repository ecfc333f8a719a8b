"""Starting a Spark session is bounded by POLICY_ENGINE_SPARK_TIMEOUT as its queries are: a
real JVM start given less time than it takes is ended (E607 says the session did not start),
no process of it is left running, and a later start works. Without Java or pyspark the module
skips, unless POLICY_ENGINE_NO_SKIP is set (.ci/run sets it), when it fails.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.sql.helpers import NO_SKIP, spark_missing

#: The mark put in the environment the JVM inherits, to find its processes.
MARK = "POLICY_ENGINE_TEST_START"


@pytest.fixture
def marked(monkeypatch: pytest.MonkeyPatch) -> str:
    reason = spark_missing()
    if reason is not None:
        if os.environ.get(NO_SKIP):
            pytest.fail(f"{reason}, and {NO_SKIP} is set: the Spark tests must run")
        pytest.skip(reason)
    mark = uuid.uuid4().hex
    monkeypatch.setenv(MARK, mark)
    return mark


def running(mark: str, child: int) -> list[str]:
    """The live processes (not zombies) whose environment carries `mark`, but for this one
    and its `child`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or entry.name in (str(os.getpid()), str(child)):
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # ended meanwhile, or not ours to read
        if f"{MARK}={mark}".encode() in environ.split(b"\0") and state != "Z":
            found.append(f"{entry.name} {command[:120]}")
    return found


#: Run in a process of its own: pyspark keeps one JVM per process, and one already running
#: (another module's) would be reused instead of started.
SCRIPT = """
import json, sys, time
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.sql.engines import Spark

for _ in range(2):  # twice: pyspark's record of the ended JVM must be forgotten
    began = time.monotonic()
    try:
        Spark("local[1]", partitions=1, timeout=0.5)  # a JVM takes seconds to start
        print(json.dumps({"started": True}), flush=True)
    except DiagnosticError as error:
        print(json.dumps({"codes": [d.code for d in error.diagnostics],
                          "message": error.diagnostics[0].message,
                          "seconds": time.monotonic() - began}), flush=True)
    sys.stdin.readline()  # the test looks for processes left running meanwhile
engine = Spark("local[1]", partitions=1, timeout=600)
print(json.dumps({"count": engine.session.range(3).count()}), flush=True)
sys.stdin.readline()
engine.close()
"""


def test_a_start_past_the_timeout_ends_the_jvm_and_a_later_start_works(marked: str) -> None:
    import subprocess
    import sys

    with subprocess.Popen([sys.executable, "-c", SCRIPT], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True,
                          cwd=Path(__file__).parents[2]) as child:
        try:
            _converse(child, marked)
        finally:
            if child.poll() is None:
                child.kill()


def _converse(child: Any, marked: str) -> None:
    import json

    assert child.stdin is not None and child.stdout is not None
    for _ in range(2):
        answer = json.loads(child.stdout.readline())
        assert answer.get("codes") == ["E607"], answer
        assert answer["message"] == ("the Spark session did not start within 0.5 seconds: "
                                     "its JVM was ended")
        assert answer["seconds"] < 45, "ended, not waited for"
        assert running(marked, child.pid) == [], "a process of the ended JVM is still running"
        child.stdin.write("\n")
        child.stdin.flush()
    assert json.loads(child.stdout.readline()) == {"count": 3}, "a later start works"
    assert running(marked, child.pid), "the JVM is found by its mark"
    child.stdin.write("\n")
    child.stdin.flush()
    assert child.wait(300) == 0
