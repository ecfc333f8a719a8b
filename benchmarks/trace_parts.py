"""Where the time of "decision + full trace read" goes, part by part, interleaved with CEL.

Times, in one process, interleaved block by block (as benchmarks/run.py does, but in blocks of
`BLOCK` cases and in the thread's CPU time, so that the other processes of a busy machine do not
land on the slower rows' longer blocks more often): CEL's bare
decision, our compiled `evaluate` (the decision and its compact record), the same with the
whole trace built and read (the row of run.py), and the parts alone: validation, the walk,
the expansion of a record into a trace, and reading a built trace. Each figure is the median
per decision over its blocks, and its ratio to CEL's.

    python benchmarks/trace_parts.py [--cases 5000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import peers  # noqa: E402
from benchmarks.cases import REFERENCE_POLICY, reference_cases  # noqa: E402
from benchmarks.run import (  # noqa: E402
    QUICK,
    Job,
    Row,
    decimal_amounts,
    explained,
    read_trace,
)
from policy_engine import Policy  # noqa: E402
from policy_engine.explain.expand import expand  # noqa: E402

#: Cases per timed block.
BLOCK = 200


def time_cpu(jobs: Sequence[Job], repeats: int) -> None:
    """`run.time_interleaved`, timed in the thread's CPU time, in blocks of `BLOCK` cases."""
    count = min(len(job.inputs) for job in jobs)
    gc.collect()
    gc.disable()
    try:
        for turn in range(repeats * (count // BLOCK)):
            start = (turn * BLOCK) % (count - count % BLOCK)
            for shift in range(len(jobs)):
                job = jobs[(turn + shift) % len(jobs)]
                chunk, fn = job.inputs[start:start + BLOCK], job.timed
                began = time.thread_time_ns()
                for item in chunk:
                    fn(item)
                job.samples.append((time.thread_time_ns() - began) / len(chunk) / 1000)
    finally:
        gc.enable()
    for job in jobs:
        job.row.us = statistics.median(job.samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    policy = Policy.load(str(REFERENCE_POLICY))
    raw = decimal_amounts(policy, reference_cases(args.cases, QUICK.seed))
    facts = [policy.evaluate(case).facts for case in raw]
    evaluate = functools.partial(policy.evaluate, engine="compiled")
    decisions = [evaluate(case) for case in facts]
    compiled = policy._compiled_policy()  # noqa: SLF001 - the walk alone
    validator = policy._validate  # noqa: SLF001 - validation alone
    walked = [(d.policy, d._facts, d._given, d._evaluation) for d in decisions]  # noqa: SLF001
    traces = [explained(evaluate)(case) for case in facts]
    cel = peers.load("cel_rust")
    assert isinstance(cel, peers.Peer), cel
    prepared = [cel.adapter.prepare(case) for case in facts]

    def validate(case: Any) -> Any:
        return validator(case, "compiled", "<facts>", None, ("facts",))

    def expand_only(args: Any) -> Any:
        return expand(*args)

    compiled.evaluate(facts[0])
    walk = compiled._trace  # noqa: SLF001 - the generated traced walk alone

    def traced_walk(case: Any) -> Any:
        return walk(case, {})

    jobs = [
        Job(Row("CEL bare decision", "", ""), cel.adapter.decide, prepared),
        Job(Row("evaluate(compiled): decision + record", "", ""), evaluate, facts),
        Job(Row("decision + full trace read (run.py row)", "", ""), explained(evaluate), facts),
        Job(Row("  validation alone", "", ""), validate, facts),
        Job(Row("  walk and record (CompiledPolicy.evaluate)", "", ""), compiled.evaluate,
            facts),
        Job(Row("    the generated traced walk (_trace)", "", ""), traced_walk, facts),
        Job(Row("  bare decision (decider(validated=True))", "", ""),
            policy.decider(validated=True), facts),
        Job(Row("  expand alone", "", ""), expand_only, walked),
        Job(Row("  read a built trace", "", ""), read_trace, traces),
    ]
    time_cpu(jobs, args.repeats)
    base = jobs[0].row.us
    assert base
    print(f"load: {os.getloadavg()}  cases: {args.cases}  repeats: {args.repeats}")
    for job in jobs:
        us = job.row.us or 0.0
        print(f"{job.row.engine:45s} {us:7.2f} us  {us / base:5.2f}x CEL")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
