"""The Spark timeout setting (POLICY_ENGINE_SPARK_TIMEOUT) is read exactly or refused clearly.

A typo in it must neither leave Spark's queries without a bound nor stop `policy batch` with
a traceback; no JVM is needed to check it.
"""

from __future__ import annotations

import pytest

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.sql.engines import DEFAULT_SPARK_TIMEOUT, SPARK_TIMEOUT, spark_timeout


@pytest.mark.parametrize(("setting", "seconds"), [
    (None, DEFAULT_SPARK_TIMEOUT), ("", DEFAULT_SPARK_TIMEOUT), ("  ", DEFAULT_SPARK_TIMEOUT),
    ("30", 30.0), ("0.5", 0.5), (" 90 ", 90.0), ("1e3", 1000.0),
])
def test_a_number_of_seconds_or_nothing_is_taken(setting: str | None, seconds: float) -> None:
    assert spark_timeout(setting) == seconds


@pytest.mark.parametrize("setting", ["abc", "10s", "0", "-5", "nan", "inf", "-inf"])
def test_anything_else_is_refused_with_the_setting_named(setting: str) -> None:
    with pytest.raises(DiagnosticError) as raised:
        spark_timeout(setting)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "E602"
    assert f"{SPARK_TIMEOUT}={setting!r} is not a positive number of seconds" in diagnostic.message
    assert diagnostic.help is not None and SPARK_TIMEOUT in diagnostic.help
