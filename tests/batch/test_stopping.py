"""SIGINT and SIGTERM stop a batch cleanly, and its output cannot pass for a complete one.

The command exits with 128 + the signal's number (130, 143), prints no traceback (nor do its
workers), says how many rows it wrote and where they are, and stops its workers. A file
output is written under a temporary name and renamed only when the run completes, so an
interrupted run leaves nothing under OUTPUT: its rows are in OUTPUT.partial, ending with a
marker line; on standard output the marker line ends the output. The subprocess timeouts are
hang guards only.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from policy_engine.batch import Interrupted, stop_on_signals
from policy_engine.batch.signals import holding, shielded
from tests.batch.helpers import (
    ALIEXPRESS,
    alive,
    children,
    expected_output,
    many,
    wait_for_output,
)
from tests.helpers.paths import ROOT

linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                           reason="finds the worker processes in /proc")
ROWS = 200_000


def _start(folder: Path, out: str) -> subprocess.Popen[bytes]:
    many(folder / "rows.jsonl", ROWS)
    # A session of its own, so a signal to its group reaches it and its workers only.
    return subprocess.Popen([sys.executable, "-m", "policy_engine", "batch", ALIEXPRESS,
                             "rows.jsonl", "--out", out, "--jobs", "2"], cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def _finish(process: subprocess.Popen[bytes]) -> tuple[bytes, str]:
    try:
        stdout, stderr = process.communicate(timeout=120)  # a hang guard
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return stdout, stderr.decode()


def _check_partial(text: str, folder: Path, expected: bytes) -> int:
    """The rows of an interrupted output: lines 1 to K as a whole run writes them, then the
    marker line that says K. Returns K."""
    lines = text.splitlines(keepends=True)
    marker = json.loads(lines[-1])
    rows = marker["rows"]
    assert set(marker) == {"partial", "reason", "rows"} and marker["partial"] is True
    assert len(lines) == rows + 1
    assert "".join(lines[:-1]).encode() == expected[:len("".join(lines[:-1]).encode())]
    return int(rows)


@linux
@pytest.mark.parametrize(("number", "to_group"), [(signal.SIGINT, True),
                                                  (signal.SIGTERM, False)])
def test_a_signal_stops_the_run_and_keeps_the_rows_apart(tmp_path: Path, number: int,
                                                         to_group: bool) -> None:
    name = signal.Signals(number).name
    process = _start(tmp_path, "out.jsonl")
    wait_for_output(tmp_path, process)
    workers = children(process.pid)
    if to_group:  # Ctrl-C in a terminal: the whole group gets SIGINT
        os.killpg(process.pid, number)
    else:  # a service manager stopping the process
        os.kill(process.pid, number)
    _, stderr = _finish(process)
    assert process.returncode == 128 + number, stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "out.jsonl").exists()
    assert not list(tmp_path.glob(".out.jsonl.*"))  # no temporary file left behind
    partial = (tmp_path / "out.jsonl.partial").read_text(encoding="utf-8")
    rows = _check_partial(partial, tmp_path, expected_output(tmp_path, ROWS)[0])
    assert 0 < rows < ROWS
    assert json.loads(partial.splitlines()[-1])["reason"] == f"interrupted by {name}"
    messages = stderr.splitlines()
    assert messages[-2] == (f"interrupted by {name}: the output so far is in "
                            "out.jsonl.partial; out.jsonl was not written")
    assert messages[-1].startswith(f"rows read: {rows} = ")
    assert workers and not any(alive(pid) for pid in workers), "a worker outlived the run"


@linux
def test_an_interrupted_standard_output_ends_with_the_marker(tmp_path: Path) -> None:
    process = _start(tmp_path, "-")
    assert process.stdout is not None
    # Rows are coming (select, not a read: communicate reads the pipe itself, after).
    assert select.select([process.stdout], [], [], 120)[0], "no output after two minutes"
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = _finish(process)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    rows = _check_partial(stdout.decode(), tmp_path, expected_output(tmp_path, ROWS)[0])
    assert stderr.splitlines()[-2] == \
        "interrupted by SIGINT: <standard output> ends with a line marking it as partial"
    assert stderr.splitlines()[-1].startswith(f"rows read: {rows} = ")


def test_a_complete_run_leaves_only_the_output(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers.cli import invoker

    many(tmp_path / "rows.jsonl", 10)
    (tmp_path / "out.jsonl").write_text("an older output\n", encoding="utf-8")
    run = invoker(tmp_path, monkeypatch, "batch")
    result = run(ALIEXPRESS, "rows.jsonl", "--out", "out.jsonl")
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "rows.jsonl"]
    assert len((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()) == 10


# ---------------------------------------------------------------- the signal sections


def _signal(number: int = signal.SIGINT) -> None:
    os.kill(os.getpid(), number)


def test_a_signal_raises_interrupted_and_the_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as stopped, stop_on_signals():
        _signal(signal.SIGTERM)
        pytest.fail("the signal did not stop the block")
    assert stopped.value.signum == signal.SIGTERM and stopped.value.exit_status == 143
    assert stopped.value.name == "SIGTERM"
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_first_signal_waits_for_the_write_to_end() -> None:
    done = []
    with pytest.raises(Interrupted), stop_on_signals():
        with holding():
            _signal()
            done.append("the write ended")
        pytest.fail("the signal was not raised when the write ended")
    assert done == ["the write ended"]


def test_a_second_signal_cuts_a_write_short() -> None:
    done = []
    with pytest.raises(Interrupted), stop_on_signals(), holding():
        _signal()
        done.append("after the first")
        _signal()
        done.append("after the second")
    assert done == ["after the first"]


def test_nothing_cuts_a_shielded_section_and_later_signals_change_nothing() -> None:
    done = []
    with pytest.raises(Interrupted), stop_on_signals():
        with shielded():
            _signal()
            _signal(signal.SIGTERM)
            done.append("shielded")
        pytest.fail("the signal was not raised when the section ended")
    assert done == ["shielded"]
    with pytest.raises(Interrupted) as stopped, stop_on_signals():
        try:
            _signal()
        except Interrupted:
            _signal(signal.SIGTERM)  # while stopping: ignored
            done.append("cleaned up")
            raise
    assert done == ["shielded", "cleaned up"] and stopped.value.signum == signal.SIGINT


def test_ctrl_c_in_any_command_exits_130_not_the_usage_status(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from policy_engine.cli import cli, deciding

    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(deciding, "run_scenario", interrupted)
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["eval", "policies/examples/scenarios/delivery/on_time.yaml"])
    assert result.exit_code == 130
    assert result.stderr.endswith("interrupted\n")
