"""Output that cannot be written is E312 (exit 2), for `policy batch` and every command.

A full disk (`/dev/full`), a folder that does not exist, a folder given as the file, standard
output closed: each is reported with the file and the reason, never as an internal error and
never with a traceback. A batch writes a regular file under a temporary name and renames it
only when the run completes, so a failed run leaves a file of that name as it was.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from policy_engine.batch import PARTIAL_SUFFIX, open_output
from policy_engine.core.diagnostics import DiagnosticError
from tests.batch.helpers import ALIEXPRESS, many
from tests.helpers.cli import Run, invoker
from tests.helpers.paths import ROOT

FULL = "/dev/full"
needs_dev_full = pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full here")
SCENARIO = "policies/examples/scenarios/delivery/on_time.yaml"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    many(tmp_path / "rows.jsonl", 20)
    return invoker(tmp_path, monkeypatch, "batch")


@needs_dev_full
def test_a_full_disk_is_e312_not_an_internal_error(run: Run) -> None:
    result = run(ALIEXPRESS, "rows.jsonl", "--out", FULL)
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "error[E312]: /dev/full: cannot write: No space left on device\n"
        "help: the disk is full: free some space, or write the output somewhere else\n")
    assert "internal error" not in result.stderr


@pytest.mark.parametrize(("out", "message"), [
    ("missing/out.jsonl", "error[E312]: missing/out.jsonl: cannot write: No such file or "
                          "directory\nhelp: the folder does not exist: create it, or choose "
                          "another\n"),
    (".", "error[E312]: .: cannot write: Is a directory\nhelp: that is a folder: give the name "
          "of a file to write\n"),
])
def test_an_output_that_cannot_be_opened_is_e312(run: Run, out: str, message: str) -> None:
    result = run(ALIEXPRESS, "rows.jsonl", "--out", out)
    assert result.exit_code == 2
    assert result.stderr == message


def test_the_file_is_written_under_a_temporary_name_until_it_is_complete(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("the older output\n", encoding="utf-8")
    os.chmod(target, 0o640)
    with open_output(str(target)) as output:
        output.write('{"line": 1}\n')
        temporary = Path(output.temporary or "")
        assert temporary.parent == tmp_path and temporary.name.startswith(".out.jsonl.")
        assert temporary.read_text(encoding="utf-8") == '{"line": 1}\n'
        assert target.read_text(encoding="utf-8") == "the older output\n"
        output.commit()
    assert target.read_text(encoding="utf-8") == '{"line": 1}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the file keeps its mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        with open_output(str(tmp_path / "new.jsonl")) as output:
            output.commit()
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "new.jsonl").stat().st_mode) == 0o644


def test_a_run_that_fails_leaves_the_older_file_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("the older output\n", encoding="utf-8")
    with open_output(str(target)) as output:
        output.write('{"line": 1}\n')
    assert target.read_text(encoding="utf-8") == "the older output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_an_abandoned_output_is_kept_apart_with_the_marker(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with open_output(str(target)) as output:
        output.write('{"line": 1}\n')
        kept = output.abandon("interrupted by SIGTERM", 1)
    assert kept == str(target) + PARTIAL_SUFFIX
    assert not target.exists()
    assert Path(kept).read_text(encoding="utf-8") == \
        '{"line": 1}\n{"partial": true, "reason": "interrupted by SIGTERM", "rows": 1}\n'


def test_a_link_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("old\n", encoding="utf-8")
    (tmp_path / "link.jsonl").symlink_to(real)
    with open_output(str(tmp_path / "link.jsonl")) as output:
        output.write("new\n")
        output.commit()
    assert (tmp_path / "link.jsonl").is_symlink()
    assert real.read_text(encoding="utf-8") == "new\n"


def test_a_file_that_is_not_a_regular_file_is_written_directly(run: Run) -> None:
    result = run(ALIEXPRESS, "rows.jsonl", "--out", os.devnull)
    assert result.exit_code == 2  # a quarter of the rows are invalid
    assert "rows read: 20 = " in result.stderr


@needs_dev_full
def test_open_output_on_a_full_disk_raises_e312_on_write() -> None:
    with open_output(FULL) as output, pytest.raises(DiagnosticError) as error:
        output.write("x\n")
    assert [d.code for d in error.value.diagnostics] == ["E312"]


# ---------------------------------------------------------------- every command


def _policy(*args: str, stdout: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "policy_engine", *args], cwd=ROOT,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120,
                          check=False)


@needs_dev_full
@pytest.mark.parametrize("command", [["eval", SCENARIO],
                                     ["batch", ALIEXPRESS,
                                      "policies/aliexpress/batch/orders.jsonl", "--out", "-"]],
                         ids=["eval", "batch"])
def test_standard_output_on_a_full_disk_is_e312(command: list[str]) -> None:
    with open(FULL, "w", encoding="utf-8") as full:
        done = _policy(*command, stdout=full.fileno())
    assert done.returncode == 2, done.stderr
    assert done.stderr.endswith(
        "error[E312]: <standard output>: cannot write: No space left on device\n"
        "help: the disk is full: free some space, or write the output somewhere else\n")
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_a_batch_to_a_closed_standard_output_is_e312() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import os, runpy, sys; os.close(1); sys.argv = ['policy', "
         "'batch', sys.argv[1], 'policies/aliexpress/batch/orders.jsonl', '--out', '-']; "
         "runpy.run_module('policy_engine', run_name='__main__')", ALIEXPRESS],
        cwd=ROOT, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert "error[E312]: <standard output>: cannot write: " in done.stderr
    assert "Traceback" not in done.stderr


def test_a_reader_that_goes_away_is_not_a_traceback(tmp_path: Path) -> None:
    many(tmp_path / "rows.jsonl", 20_000)
    with subprocess.Popen([sys.executable, "-m", "policy_engine", "batch", ALIEXPRESS,
                           "rows.jsonl", "--out", "-", "--jobs", "2"], cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # like `| head -1`
        try:
            stderr = process.stderr.read().decode()
            process.wait(timeout=120)  # a hang guard
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    assert process.returncode in (0, 1)  # click's own status for a broken pipe is 1
