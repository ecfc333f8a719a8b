"""Starting a Spark session is bounded by POLICY_ENGINE_SPARK_TIMEOUT as its queries are: a
real JVM start given less time than it takes is ended (E607 says the session did not start),
no process of it is left running, and a later start works. Without Java or pyspark the module
skips, unless POLICY_ENGINE_NO_SKIP is set (.ci/run sets it), when it fails.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from policy_engine.core.diagnostics import DiagnosticError
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
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        pytest.fail("a Spark session of another test is still running")
    mark = uuid.uuid4().hex
    monkeypatch.setenv(MARK, mark)
    return mark


def running(mark: str) -> list[str]:
    """The live processes (not zombies) whose environment carries `mark`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or entry.name == str(os.getpid()):
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


def test_a_start_past_the_timeout_ends_the_jvm_and_a_later_start_works(marked: str) -> None:
    from policy_engine.sql.engines import Spark

    for _ in range(2):  # twice: pyspark's record of the ended JVM must be forgotten
        began = time.monotonic()
        with pytest.raises(DiagnosticError) as raised:
            Spark("local[1]", partitions=1, timeout=0.5)  # a JVM takes seconds to start
        [diagnostic] = raised.value.diagnostics
        assert diagnostic.code == "E607"
        assert diagnostic.message == ("the Spark session did not start within 0.5 seconds: "
                                      "its JVM was ended")
        assert time.monotonic() - began < 45, "ended, not waited for"
        assert running(marked) == [], "a process of the ended JVM is still running"
    engine = Spark("local[1]", partitions=1, timeout=600)
    try:
        assert running(marked), "the JVM is found by its mark"
        assert engine.session.range(3).count() == 3
    finally:
        engine.close()
