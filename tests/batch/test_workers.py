"""A worker process that dies is noticed at once, its rows retried, and nothing is lost.

The deaths here are real: a worker killed with SIGKILL (by the test, or by itself on a row
chosen to kill it, through a function the forked worker inherits). A chunk whose worker
died is retried alone in a fresh worker; if that one dies too, its rows are E313 lines with
the reason. The run always finishes (the subprocess timeouts are hang guards only), every
row has its line in order, and the counts reconcile.
"""

from __future__ import annotations

import errno
import io
import multiprocessing
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policy_engine.batch import ChunkResult, RowDecider, cores, open_batch, worker_count
from policy_engine.batch import running as running_module
from policy_engine.batch import workers as workers_module
from policy_engine.batch.workers import WorkerPool, death_reason
from tests.batch.helpers import (
    ALIEXPRESS,
    SOME,
    alive,
    batch,
    children,
    expected_output,
    many,
    outcome,
    reconciles,
    wait_for_output,
    write_rows,
)
from tests.helpers.paths import ROOT

forked = pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                            reason="the workers must inherit the test's patch (fork)")
linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                           reason="finds the worker processes in /proc")

#: A row the patched decider dies on, in a worker process.
DEADLY = '{"request": "cancel_order", "dispute_id": "KILL ME"}'


@pytest.fixture
def deadly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Makes a worker kill itself (SIGKILL) on a chunk holding DEADLY: once per chunk (a
    file in the returned folder remembers it), or every time with DIE_EVERY_TIME set."""
    died = tmp_path / "died"
    died.mkdir()
    parent = os.getpid()
    real = RowDecider.decide_chunk

    def decide_chunk(self: RowDecider, chunk: list[tuple[int, object]], parse: Any
                     ) -> ChunkResult:
        if os.getpid() != parent and any(b"KILL ME" in record for _, record in chunk
                                          if isinstance(record, bytes)):
            mark = died / str(chunk[0][0])
            if not mark.exists() or os.environ.get("DIE_EVERY_TIME"):
                mark.touch()
                os.kill(os.getpid(), signal.SIGKILL)
        return real(self, chunk, parse)

    monkeypatch.setattr(RowDecider, "decide_chunk", decide_chunk)
    yield died


@forked
@pytest.mark.parametrize("deadly_lines", [[46], [1, 12, 23, 34, 45, 56, 67, 78, 89, 100]],
                         ids=["one chunk", "every chunk"])
def test_a_chunk_whose_worker_died_once_is_retried_and_decided(
        deadly: Path, tmp_path: Path, deadly_lines: list[int]) -> None:
    lines = [SOME[i % 4] for i in range(100)]
    for line in deadly_lines:
        lines[line - 1] = DEADLY
    path = write_rows(tmp_path / "rows.jsonl", lines)
    _, alone, _, expected = batch(ALIEXPRESS, path, jobs=1, chunk_rows=10)
    rows, summary, _, text = batch(ALIEXPRESS, path, jobs=2, chunk_rows=10)
    assert len(list(deadly.iterdir())) == len(deadly_lines)  # a worker died on each
    assert text == expected
    assert summary.failed == 0 and summary.rows == 100 and reconciles(summary)


@forked
def test_a_chunk_that_kills_its_worker_twice_is_reported_failed(
        deadly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIE_EVERY_TIME", "1")
    lines = [SOME[i % 4] for i in range(100)]
    lines[45] = DEADLY
    path = write_rows(tmp_path / "rows.jsonl", lines)
    _, _, _, alone = batch(ALIEXPRESS, path, jobs=1, chunk_rows=10)
    rows, summary, reported, text = batch(ALIEXPRESS, path, jobs=2, chunk_rows=10)
    assert [row["line"] for row in rows] == list(range(1, 101))
    failed = [row for row in rows if outcome(row) == "failed"]
    assert [row["line"] for row in failed] == list(range(41, 51))  # the chunk of line 46
    assert failed[0]["error"] == {
        "code": "E313", "path": "$",
        "message": "the row could not be decided: the worker process died (signal 9, SIGKILL) "
                   "while deciding rows 41 to 50, and again when they were retried"}
    # Every other row is what one process gives.
    assert [line for line in text.splitlines() if '"E313"' not in line] == \
        [line for line in alone.splitlines()[:40] + alone.splitlines()[50:]]
    assert summary.failed == 10 and summary.rows == 100 and reconciles(summary)
    assert f"{path}:41: $: the row could not be decided: the worker process died" \
        in reported[[r.split(":")[1] for r in reported].index("41")]


@forked
def test_workers_that_cannot_start_leave_the_rows_to_this_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(job: Any) -> Any:
        if os.getpid() != parent:
            os._exit(3)
        raise AssertionError("not called in the parent")

    parent = os.getpid()
    monkeypatch.setattr(workers_module, "build", broken)
    path = many(tmp_path / "rows.jsonl", 50)
    _, _, _, expected = batch(ALIEXPRESS, path, jobs=1, chunk_rows=10)
    notices: list[str] = []
    out = io.StringIO()
    with open_batch(ALIEXPRESS, str(path), chunk_rows=10) as opened:
        summary = opened.run(out, jobs=2, notice=notices.append)
    assert out.getvalue() == expected and summary.rows == 50
    assert notices == ["worker processes cannot start here (the worker process exited with "
                       "status 3); deciding the rest in this process"]


def test_death_reasons() -> None:
    assert death_reason(-9) == "the worker process died (signal 9, SIGKILL)"
    assert death_reason(-200) == "the worker process died (signal 200)"
    assert death_reason(70) == "the worker process exited with status 70"
    assert death_reason(None) == "the worker process stopped answering"


# ---------------------------------------------------------------- killed from outside


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "policy_engine", "batch", ALIEXPRESS, *args]


@linux
def test_a_worker_killed_with_sigkill_is_replaced_and_no_row_is_lost(tmp_path: Path) -> None:
    path = many(tmp_path / "rows.jsonl", 40_000)
    expected, counts = expected_output(tmp_path, 40_000)
    process = subprocess.Popen(_command(str(path), "--out", "out.jsonl", "--jobs", "2"),
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_output(tmp_path, process)
        workers = children(process.pid)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = process.communicate(timeout=300)  # a hang guard
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = stderr.decode()
    assert process.returncode == 2, text  # a quarter of the rows are invalid
    assert "Traceback" not in text
    assert text.splitlines()[-1].startswith(counts)
    assert (tmp_path / "out.jsonl").read_bytes() == expected
    assert not alive(workers[1]), "a worker outlived the run"


# ---------------------------------------------------------------- how many


def test_jobs_are_capped_to_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []

    class Counting(WorkerPool):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self.count)

    monkeypatch.setattr(running_module, "WorkerPool", Counting)
    path = many(tmp_path / "rows.jsonl", 30)
    _, summary, _, _ = batch(ALIEXPRESS, path, jobs=1000, chunk_rows=10)
    assert started == [cores()] and summary.rows == 30
    assert worker_count(1000) == (cores(), f"--jobs 1000 is more than the {cores()} cores this "
                                           f"process may use; using {cores()}")
    assert worker_count(1) == (1, None)
    assert worker_count(None) == (cores(), None)


def test_the_command_says_when_it_caps_jobs(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers.cli import invoker

    run = invoker(ROOT, monkeypatch, "batch")
    path = many(tmp_path / "rows.jsonl", 4)
    result = run(ALIEXPRESS, str(path), "--out", "-", "--jobs", "1000")
    assert result.stderr.splitlines()[0] == (
        f"note: --jobs 1000 is more than the {cores()} cores this process may use; "
        f"using {cores()}")
    assert len(result.stdout.splitlines()) == 4


def test_no_process_can_be_started_and_the_rows_are_decided_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork(self: Any) -> None:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(workers_module._Worker, "start", no_fork)
    path = many(tmp_path / "rows.jsonl", 30)
    _, _, _, expected = batch(ALIEXPRESS, path, jobs=1, chunk_rows=10)
    notices: list[str] = []
    out = io.StringIO()
    with open_batch(ALIEXPRESS, str(path), chunk_rows=10) as opened:
        summary = opened.run(out, jobs=2, notice=notices.append)
    assert out.getvalue() == expected and summary.rows == 30
    assert notices == ["worker processes cannot start here (a process cannot be started: "
                       "Resource temporarily unavailable); deciding the rest in this process"]


@forked
@pytest.mark.parametrize("seed", [1, 2])
def test_many_deaths_lose_nothing_and_keep_the_order(seed: int, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Each chunk's fate is drawn from its first line: decided, killed once (then decided on
    # the retry), killed every time (its rows fail), or exiting with a status of its own.
    parent = os.getpid()
    real = RowDecider.decide_chunk
    died = tmp_path / "died"
    died.mkdir()

    def fate(first: int) -> str:
        draw = random.Random(seed * 100_003 + first).random()
        return ("always" if draw < 0.15 else "once" if draw < 0.45 else
                "exit" if draw > 0.95 else "fine")

    def decide_chunk(self: RowDecider, chunk: list[tuple[int, object]], parse: Any
                     ) -> ChunkResult:
        first = chunk[0][0]
        if os.getpid() != parent and fate(first) != "fine":
            mark = died / str(first)
            if fate(first) == "always" or not mark.exists():
                mark.touch()
                if fate(first) == "exit":
                    os._exit(5)
                os.kill(os.getpid(), signal.SIGKILL)
        return real(self, chunk, parse)

    path = many(tmp_path / "rows.jsonl", 300)
    _, _, _, alone = batch(ALIEXPRESS, path, jobs=1, chunk_rows=7)
    monkeypatch.setattr(RowDecider, "decide_chunk", decide_chunk)
    rows, summary, _, text = batch(ALIEXPRESS, path, jobs=2, chunk_rows=7)
    assert [row["line"] for row in rows] == list(range(1, 301))
    failing = {line for start in range(1, 301, 7) if fate(start) == "always"
               for line in range(start, min(start + 7, 301))}
    assert {row["line"] for row in rows if outcome(row) == "failed"} == failing
    assert summary.failed == len(failing) and summary.rows == 300 and reconciles(summary)
    for line, expected in zip(text.splitlines(), alone.splitlines(), strict=True):
        assert line == expected or '"E313"' in line
