"""Batch workers: worker processes decide chunks of rows; a dead one is noticed and replaced.

Each worker has a pipe of its own for tasks and one for results, so the parent always knows
which chunks a worker holds, and a worker killed in the middle of a message damages nothing
but its own pipes. The parent waits on the result pipes and the process sentinels together:
a worker that dies is seen at once, its unfinished chunks go back in the queue, and the
chunk it was deciding is retried alone in a fresh worker; if that one dies too, the rows
of the chunk are reported as failed (E313) with the reason. Results are taken strictly in
input order, so the output is the same for any number of workers.

Workers ignore SIGINT (Ctrl-C reaches every process of the group; the parent decides what
happens) and die quietly on SIGTERM, which is how the parent stops them.
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from policy_engine.policy import Policy

from .deciding import ChunkResult, Parse, RowDecider, failed_chunk, record_parser
from .quick import QuickLines, decide_span
from .reading import Format, Record
from .rows import RowLimits
from .signals import STOP_SIGNALS, shielded
from .spans import Span, line_numbers

#: A unit of work: records read by the main process, or a span of the file the worker reads.
Chunk = list[Record] | Span
#: Chunks a worker holds at once: one it decides, one waiting, so it never idles.
PER_WORKER = 2
#: A worker that dies before it is ready this many times in a row means workers cannot
#: start here; the rows are then decided in the main process.
_START_FAILURES = 3
#: How long a worker's task reader waits before checking that its parent is alive.
_PARENT_CHECK_SECONDS = 1.0
#: How long stopping a worker may take before it is killed.
_STOP_SECONDS = 5.0
#: The exit status of a worker that failed outside any row (it has printed nothing).
_WORKER_FAILED = 70


@dataclass(frozen=True)
class Job:
    """What a worker process needs to rebuild the batch's deciding side (picklable)."""

    policy_text: str
    policy_name: str
    policy_path: str | None
    file: str
    fmt: Format
    header: tuple[str, ...] | None
    trace: bool
    limits: RowLimits
    #: The input file, when workers read their spans of it themselves (`spans`).
    path: str | None = None


#: Policies already loaded in this process, by job. A forked worker inherits its parent's, with
#: the generated code built, and starts at once; a spawned one has none and reads the text.
_LOADED: dict[Job, Policy] = {}


def build(job: Job) -> tuple[RowDecider, Parse]:
    """The decider and the record parser a worker runs."""
    policy = _LOADED.get(job)
    if policy is None:
        policy = Policy.from_text(job.policy_text, job.policy_name)
        policy.path = job.policy_path
    return (RowDecider(policy, job.file, trace=job.trace),
            record_parser(job.fmt, job.header, policy, job.limits))


#: The parent's ends of every worker's pipes. A forked worker inherits them and closes its
#: copies first thing, so that a pipe ends when the parent or its worker goes.
_PARENT_ENDS: list[Connection] = []


def _worker_main(job: Job, tasks: Connection, results: Connection, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    for end in _PARENT_ENDS:
        end.close()
    _PARENT_ENDS.clear()
    try:
        decider, parse = build(job)
        handle = open(job.path, "rb") if job.path is not None else None  # noqa: SIM115
        if handle is not None:  # JSON lines of a file: the quick path
            decider.quick = QuickLines(decider, job.limits)
        results.send(("ready",))
        inbox: queue.SimpleQueue[tuple[int, Chunk] | None] = queue.SimpleQueue()
        # Tasks are read as soon as they come, so the parent never waits on a full pipe.
        threading.Thread(target=_read_tasks, args=(tasks, inbox, parent), daemon=True).start()
        while (item := inbox.get()) is not None:
            seq, chunk = item
            if isinstance(chunk, Span):
                assert handle is not None
                result = decide_span(decider, handle, chunk, job.limits.max_row_bytes, parse)
            else:
                result = decider.decide_chunk(chunk, parse)
            results.send(("done", seq, result))
    except (EOFError, OSError):
        return  # the parent went away, or is stopping this worker
    except BaseException:  # a worker never prints a traceback unasked
        if os.environ.get("POLICY_DEBUG"):
            traceback.print_exc()
        sys.exit(_WORKER_FAILED)


def _read_tasks(tasks: Connection, inbox: queue.SimpleQueue[Any], parent: int) -> None:
    try:
        while True:
            if tasks.poll(_PARENT_CHECK_SECONDS):
                inbox.put(tasks.recv())
            elif os.getppid() != parent:
                break  # the parent died without closing the pipe
    except (EOFError, OSError):
        pass
    inbox.put(None)


def death_reason(exitcode: int | None) -> str:
    """What happened to a worker process, from its exit code."""
    if exitcode is None:
        return "the worker process stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            return f"the worker process died (signal {-exitcode})"
        return f"the worker process died (signal {-exitcode}, {name})"
    return f"the worker process exited with status {exitcode}"


class _Worker:
    """One worker process, its pipes, and the chunks it holds, in the order it got them."""

    def __init__(self, context: BaseContext, job: Job) -> None:
        self._tasks, self.tasks = context.Pipe(duplex=False)
        self.results, self._results = context.Pipe(duplex=False)
        _PARENT_ENDS.extend((self.tasks, self.results))
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(job, self._tasks, self._results, os.getpid()),
            daemon=True)
        self.in_flight: deque[int] = deque()
        self.ready = False
        self.exclusive = False  # deciding a chunk that killed a worker: nothing else with it
        self.dead = False

    def start(self) -> None:
        # Blocked while the process starts, the signals cannot reach it before it has set
        # its own handlers; the parent gets any that came when they are unblocked.
        blocking = hasattr(signal, "pthread_sigmask")
        if blocking:
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self.process.start()
        finally:
            self._tasks.close()  # the worker's ends: only the worker may hold them
            self._results.close()
            if blocking:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def close(self) -> None:
        for end in (self.tasks, self.results):
            if end in _PARENT_ENDS:
                _PARENT_ENDS.remove(end)
            end.close()


@dataclass
class _Chunk:
    records: Chunk
    attempts: int = 0  # workers that died deciding it


class WorkerPool:
    """Decides chunks in worker processes and gives the results back in input order.

    Args:
        job: what each worker rebuilds.
        policy: the loaded policy of `job`, which forked workers then inherit.
        workers: how many processes.
        local: decides a chunk in this process, when worker processes cannot start.
        notice: called with a sentence for standard error when something unusual happens.
        ahead: how many chunks may be read before the oldest is taken (bounds memory).
    """

    def __init__(self, job: Job, workers: int, *,
                 local: Callable[[Chunk], ChunkResult],
                 notice: Callable[[str], None] | None = None, ahead: int | None = None,
                 context: BaseContext | None = None, policy: Policy | None = None) -> None:
        self.job = job
        if policy is not None:
            policy.decider()  # built once here, inherited by every forked worker
            _LOADED[job] = policy
        self.count = workers
        self.local = local
        self.notice = notice
        self.ahead = ahead if ahead is not None else 2 * PER_WORKER * workers
        self.context = context or multiprocessing.get_context()
        self.workers: list[_Worker] = []
        self._chunks: dict[int, _Chunk] = {}
        self._done: dict[int, ChunkResult] = {}
        self._retry: list[int] = []  # a heap: the oldest chunk first
        self._start_failures = 0
        self._local_only = False

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, chunks: Iterator[Chunk], take: Callable[[ChunkResult], None]) -> None:
        """Decides every chunk and calls `take` with each result, in the order of `chunks`."""
        for _ in range(self.count):
            self._start()
        next_read = next_take = 0
        exhausted = False
        while True:
            # Hand out work: retried chunks first, then new ones while the window allows.
            while True:
                if self._retry:
                    # Taken off first: a failed send puts it back, and a death may add others.
                    seq = heapq.heappop(self._retry)
                    if not self._assign(seq, retry=True):
                        heapq.heappush(self._retry, seq)
                        break
                    continue
                if exhausted or next_read - next_take >= self.ahead:
                    break
                if not self._local_only and self._idlest() is None:
                    break
                records = next(chunks, None)
                if records is None:
                    exhausted = True
                    break
                self._chunks[next_read] = _Chunk(records)
                self._retry_or_assign(next_read)
                next_read += 1
            taken = next_take
            while next_take in self._done:
                result = self._done.pop(next_take)
                del self._chunks[next_take]
                next_take += 1
                take(result)
            if exhausted and next_take == next_read:
                return
            if next_take == taken and not self._local_only:
                self._wait()  # only when taking opened no room for more work

    def _retry_or_assign(self, seq: int) -> None:
        if not self._assign(seq, retry=False):
            heapq.heappush(self._retry, seq)

    def _idlest(self) -> _Worker | None:
        """The live worker with the fewest chunks, if one can take another."""
        free = [w for w in self.workers
                if not w.dead and not w.exclusive and len(w.in_flight) < PER_WORKER]
        return min(free, key=lambda w: len(w.in_flight)) if free else None

    def _assign(self, seq: int, *, retry: bool) -> bool:
        """Sends chunk `seq` to a worker (or decides it here); False when none can take it."""
        chunk = self._chunks[seq]
        if self._local_only:
            self._done[seq] = self.local(chunk.records)
            return True
        if retry and chunk.attempts:
            # It killed a worker: retried alone, so another death can only be its own.
            idle = [w for w in self.workers if not w.dead and not w.in_flight]
            if not idle:
                return False
            worker = idle[0]
            worker.exclusive = True
        else:
            found = self._idlest()
            if found is None:
                return False
            worker = found
        worker.in_flight.append(seq)
        try:
            worker.tasks.send((seq, chunk.records))
        except (OSError, ValueError):
            # It died before this chunk reached it; the chunk goes back unharmed.
            worker.in_flight.pop()
            heapq.heappush(self._retry, seq)
            self._died(worker)
        return True

    def _start(self) -> None:
        worker = _Worker(self.context, self.job)
        self.workers.append(worker)  # first, so that `close` stops it whatever happens
        try:
            worker.start()
        except OSError as error:  # no process can be made now (EAGAIN, ENOMEM)
            worker.close()
            self.workers.remove(worker)
            self._start_failures += 1
            self._give_up_if_alone(f"a process cannot be started: {error.strerror}")

    def _wait(self) -> None:
        waiting: dict[Any, tuple[_Worker, bool]] = {}  # connections and sentinels
        for worker in self.workers:
            waiting[worker.results] = (worker, True)
            waiting[worker.process.sentinel] = (worker, False)
        if not any(worker.in_flight for worker in self.workers):
            # Nothing could ever arrive: fail loudly rather than wait forever.
            raise RuntimeError("the batch waits for worker processes, but none has work")
        for ready in wait(list(waiting)):
            worker, is_result = waiting[ready]
            if worker.dead:
                continue
            if is_result:
                try:
                    self._handle(worker, worker.results.recv())
                except (EOFError, OSError):
                    self._died(worker)
            else:
                self._died(worker)

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        if message[0] == "ready":
            worker.ready = True
            self._start_failures = 0
            return
        _, seq, result = message
        if worker.in_flight and worker.in_flight[0] == seq:
            worker.in_flight.popleft()
        worker.exclusive = False
        self._done[seq] = result

    def _died(self, worker: _Worker) -> None:
        """A worker is gone: keep what it finished, requeue what it held, replace it."""
        worker.dead = True
        try:  # results it sent before it died are still in the pipe
            while worker.results.poll(0):
                self._handle(worker, worker.results.recv())
        except (EOFError, OSError):
            pass
        with shielded():
            worker.process.join(_STOP_SECONDS)
            if worker.process.is_alive():  # its pipe ended, but it did not
                worker.process.kill()
                worker.process.join(_STOP_SECONDS)
        reason = death_reason(worker.process.exitcode)
        worker.close()
        self.workers.remove(worker)
        held = list(worker.in_flight)
        if worker.ready and held:
            # Chunks are decided in the order they came: the first is the one it was on.
            self._charge(held.pop(0), reason)
        elif not worker.ready:
            self._start_failures += 1
        for seq in held:
            heapq.heappush(self._retry, seq)
        if self._start_failures < _START_FAILURES:
            self._start()
        else:
            self._give_up_if_alone(reason)

    def _give_up_if_alone(self, reason: str) -> None:
        """With no worker left, the rest is decided in this process."""
        if self.workers or self._local_only:
            return
        self._local_only = True
        if self.notice is not None:
            self.notice(f"worker processes cannot start here ({reason}); deciding the rest "
                        "in this process")

    def _charge(self, seq: int, reason: str) -> None:
        chunk = self._chunks[seq]
        chunk.attempts += 1
        if chunk.attempts < 2:
            heapq.heappush(self._retry, seq)
            return
        numbers = line_numbers(chunk.records)
        first, last = numbers[0], numbers[-1]
        self._done[seq] = failed_chunk(
            self.job.file, numbers,
            f"{reason} while deciding rows {first} to {last}, and again when they were "
            "retried")

    def close(self) -> None:
        """Stops every worker (SIGTERM, then SIGKILL after a few seconds) and reaps it."""
        _LOADED.pop(self.job, None)
        with shielded():
            for worker in self.workers:
                if worker.process.is_alive():
                    worker.process.terminate()
            deadline = time.monotonic() + _STOP_SECONDS
            for worker in self.workers:
                if worker.process.pid is None:  # never started
                    worker.close()
                    continue
                worker.process.join(max(0.0, deadline - time.monotonic()))
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join(_STOP_SECONDS)
                worker.close()
            self.workers.clear()
