"""The decision log writer on its own: rotation, fsync, torn tails repaired, short writes
undone, lines kept in memory; and the records: ids, masking, exact amounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from policy_engine.serve.log_writer import DecisionLogWriter, LogUnavailable, repair_folder
from policy_engine.serve.metrics import Metrics
from policy_engine.serve.records import MASKED, Masker, dumps, new_id


def _writer(folder: Path, **options: object) -> DecisionLogWriter:
    settings: dict[str, object] = {"max_bytes": 1000, "fsync": "interval",
                                   "fsync_interval": 1.0, "on_failure": "refuse",
                                   "pending_max": 3}
    settings.update(options)
    return DecisionLogWriter(str(folder), Metrics(), **settings)  # type: ignore[arg-type]


def _line(number: int, size: int = 100) -> bytes:
    return json.dumps({"n": number, "pad": "x" * size}).encode() + b"\n"


def test_files_rotate_by_size_and_lines_stay_whole(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    for number in range(40):
        assert writer.write([_line(number)])[0]
    writer.close()
    files = sorted(tmp_path.glob("decisions-*.jsonl"))
    assert len(files) >= 4
    numbers = []
    for path in files:
        data = path.read_bytes()
        assert len(data) <= 1000 and data.endswith(b"\n")
        numbers += [json.loads(line)["n"] for line in data.splitlines()]
    assert numbers == list(range(40))
    assert all(f"-{os.getpid()}-" in p.name for p in files)


def test_fsync_always_waits_for_the_disk(tmp_path: Path) -> None:
    writer = _writer(tmp_path, fsync="always", max_bytes=10**6)
    written, ticket = writer.write([_line(1), _line(2)])
    assert written and ticket == 1
    writer.wait_synced(ticket)
    assert writer._synced >= ticket  # noqa: SLF001 - what the wait promised
    writer.close()


def _full(writer: DecisionLogWriter) -> None:
    """Points the writer's file at /dev/full, where every write fails with ENOSPC."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here to stand for a full disk")
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, writer._fd)  # noqa: SLF001
    os.close(full)


def test_refuse_mode_raises_and_keeps_nothing(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    _full(writer)
    with pytest.raises(LogUnavailable, match="No space left on device"):
        writer.write([_line(1)])
    assert writer.error is not None
    writer._closed = True  # noqa: SLF001 - the fd is /dev/full's now; nothing to sync


def test_answer_mode_keeps_lines_up_to_its_limit_and_counts_the_rest(tmp_path: Path) -> None:
    metrics = Metrics()
    writer = DecisionLogWriter(str(tmp_path), metrics, max_bytes=10**6, fsync="never",
                               fsync_interval=1.0, on_failure="answer", pending_max=3)
    real = os.dup(writer._fd)  # noqa: SLF001
    _full(writer)
    for number in range(5):
        assert writer.write([_line(number)]) == (False, 0)
    shown = metrics.render()
    assert "policy_decision_log_lines_lost_total{" in shown and "} 2\n" in shown
    os.dup2(real, writer._fd)  # noqa: SLF001 - room again
    assert writer.write([_line(5)])[0]
    writer.close()
    data = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("*.jsonl")))
    assert [json.loads(line)["n"] for line in data.splitlines()] == [0, 1, 2, 5]


def test_a_torn_tail_of_a_dead_process_is_cut_back(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True, timeout=60)
    dead = int(done.stdout)
    torn = tmp_path / f"decisions-20260101T000000Z-{dead}-0001.jsonl"
    torn.write_bytes(_line(1) + _line(2) + b'{"n": 3, "pa')
    mine = tmp_path / f"decisions-20260101T000000Z-{os.getpid()}-0001.jsonl"
    mine.write_bytes(_line(1) + b'{"n": 2')  # a live process's file is never touched
    assert repair_folder(str(tmp_path)) == [str(torn)]
    assert torn.read_bytes() == _line(1) + _line(2)
    assert mine.read_bytes().endswith(b'{"n": 2')


def test_ids_are_ulids_that_sort_by_time() -> None:
    ids = [new_id(1_700_000_000.0 + i) for i in range(50)]
    assert all(len(i) == 26 and i.isalnum() and i.isupper() for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert len({new_id(1_700_000_000.0) for _ in range(1000)}) == 1000


def test_masking_and_exact_numbers() -> None:
    masker = Masker(["email", "phone"])
    facts = {"email": "a@b.c", "amount": Decimal("24.90"), "n": 3, "tags": ["x"]}
    shown, masked = masker.mask(facts)
    assert masked == ["email"]
    assert shown == {"email": MASKED, "amount": Decimal("24.90"), "n": 3, "tags": ["x"]}
    assert dumps(shown) == b'{"email":"<masked>","amount":"24.90","n":3,"tags":["x"]}'
    assert dumps({"text": "\u00e9\ud800"}) == b'{"text":"\\u00e9\\ud800"}'
    assert masker.mask({"n": 1}) == ({"n": 1}, [])
