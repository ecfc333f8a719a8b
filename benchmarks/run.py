"""The benchmark: our engine against hand-written Python and peer rule engines, per decision.

One run, one process (plus one child process per scaling row and for memory): random cases
for the reference policy (benchmarks/reference.policy) and the AliExpress policy, every
engine checked against our interpreter on every case before it is timed, then timed in
batches with `time.perf_counter_ns` (several repeats, median per decision, gc off). Prints
Markdown tables (engines, targets, scaling) and writes benchmarks/results.json. See
docs/performance.md.

    pip install -e '.[bench]'
    python benchmarks/run.py --quick          # under two minutes
    python benchmarks/run.py                  # 20,000 cases
    python benchmarks/run.py --check          # exit 1 when a target fails
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import handwritten, peers  # noqa: E402
from benchmarks.cases import (  # noqa: E402
    ALIEXPRESS_POLICY,
    REFERENCE_POLICY,
    aliexpress_cases,
    reference_cases,
)
from benchmarks.generate import generate_policy, random_facts  # noqa: E402
from policy_engine import Policy  # noqa: E402
from policy_engine.check.types import AmountType  # noqa: E402
from policy_engine.core.diagnostics import DiagnosticError  # noqa: E402
from policy_engine.facts.validation import FactStage  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results.json"
#: The rows that validate raw facts and decide: amounts as the engine's readers give them
#: (`Decimal`, the target's row), and as decimal text (for comparison).
VALIDATED = "our compiled, with validation (decider())"
VALIDATED_TEXT = "our compiled, with validation, amounts as text (decider())"
INTERPRETED = "our interpreter (evaluate, engine='interpreted')"
TRACED = "our compiled, with trace (evaluate, engine='compiled')"
SCALING_RULES = (10, 100, 1_000, 10_000)
#: Peers' cost per decision relative to hand-written Python when none can run here
#: (common-expression-language in shared/bench/reference-policy.md).
FALLBACK_PEER_RATIO = 48.0
#: Seconds a --quick run may take before its remaining scaling rows are cut short.
QUICK_DEADLINE = 108.0
#: Cases per timed batch.
BATCH = 1_000

Fn = Callable[[Any], Any]


@dataclass(frozen=True)
class Settings:
    cases: int
    repeats: int
    budget: float  # seconds of timing per engine, all repeats together
    scaling_cases: int
    scaling_checks: int  # cases of a generated policy checked against the interpreter
    memory_rules: int  # the largest generated policy whose memory is measured
    seed: int


QUICK = Settings(cases=3_000, repeats=5, budget=0.6, scaling_cases=500, scaling_checks=20,
                 memory_rules=100, seed=8)
FULL = Settings(cases=20_000, repeats=7, budget=3.0, scaling_cases=5_000, scaling_checks=200,
                memory_rules=10_000, seed=8)


@dataclass
class Row:
    """One line of the engine table."""

    engine: str
    workload: str
    policy: str
    us: float | None = None  # median microseconds per decision
    ratio: float | None = None  # x hand-written Python, same workload
    timed_cases: int = 0
    checked_cases: int = 0
    note: str = ""


@dataclass
class Target:
    name: str
    limit: str
    measured: str
    passed: bool | None  # None: could not be measured
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    scaling: list[dict[str, Any]] = field(default_factory=list)
    cases: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- timing and checking
def time_per_decision(fn: Fn, inputs: Sequence[Any], repeats: int) -> float:
    """Median microseconds per call of `fn` over `inputs`, timed in batches, gc disabled."""
    batches = [inputs[start:start + BATCH] for start in range(0, len(inputs), BATCH)]
    samples: list[float] = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            for batch in batches:
                start = time.perf_counter_ns()
                for item in batch:
                    fn(item)
                samples.append((time.perf_counter_ns() - start) / len(batch) / 1000)
    finally:
        gc.enable()
    return statistics.median(samples)


def check(answer: Fn, inputs: Sequence[Any], expected: Sequence[Any]) -> tuple[str, float]:
    """Runs `answer` on every input; returns a description of the first disagreement ('' when
    all agree) and the microseconds per call it took (to size the timing)."""
    wrong: list[int] = []
    first = ""
    start = time.perf_counter_ns()
    for index, (item, want) in enumerate(zip(inputs, expected, strict=True)):
        try:
            got = answer(item)
        except Exception as error:  # noqa: BLE001 - a failing engine is reported, not fatal
            got = f"{type(error).__name__}: {error}"[:120]
        if got != want:
            wrong.append(index)
            if not first:
                first = f"case {index}: expected {want!r}, got {got!r}"
    elapsed = (time.perf_counter_ns() - start) / max(len(inputs), 1) / 1000
    if wrong:
        return f"disagrees with our interpreter on {len(wrong)} of {len(inputs)} cases " \
               f"(first {first}); not timed", elapsed
    return "", elapsed


def measure(row: Row, timed: Fn, answer: Fn, inputs: Sequence[Any], expected: Sequence[Any],
            settings: Settings) -> Row:
    """Checks an engine on every case, then times it on as many cases as the budget allows."""
    problem, estimate = check(answer, inputs, expected)
    row.checked_cases = len(inputs)
    if problem:
        row.note = problem
        return row
    fits = int(settings.budget / settings.repeats / max(estimate, 0.01) * 1e6)
    count = max(min(len(inputs), fits), min(len(inputs), 200))
    row.timed_cases = count
    row.us = time_per_decision(timed, inputs[:count], settings.repeats)
    if count < len(inputs):
        row.note = f"timed on the first {count:,}"
    return row


# ---------------------------------------------------------------- the reference policy
def reference_rows(settings: Settings, report: Report, use_peers: bool) -> None:
    policy = Policy.load(str(REFERENCE_POLICY))
    raw_text = reference_cases(settings.cases, settings.seed)
    raw = decimal_amounts(policy, raw_text)
    interpreted = functools.partial(policy.evaluate, engine="interpreted")
    decisions = [interpreted(case) for case in raw]
    facts = [decision.facts for decision in decisions]
    expected = [decision.decision for decision in decisions]
    traced = functools.partial(policy.evaluate, engine="compiled")
    permitted = [decision in handwritten.PERMITTED for decision in expected]
    report.cases["reference"] = {"cases": len(facts), "seed": settings.seed,
                                 "decisions": dict(sorted(_count(expected).items()))}
    decider, decider_name, with_validation = _decider(policy)

    def b_answer(case: Any) -> bool:
        return decider(case).decision in handwritten.PERMITTED

    ours: list[tuple[str, str, Fn, Fn, list[Any], list[Any]]] = [
        ("hand-written Python if/elif", "A", handwritten.decide, handwritten.decide, facts,
         expected),
        (INTERPRETED, "A", interpreted, decided(interpreted), facts, expected),
        (f"our compiled, no trace ({decider_name})", "A", decider, decided(decider), facts,
         expected),
        (TRACED, "A", traced, decided(traced), facts, expected),
        (VALIDATED, "A", with_validation, decided(with_validation), raw, expected),
        (VALIDATED_TEXT, "A", with_validation, decided(with_validation), raw_text, expected),
        ("hand-written Python if/elif", "B", handwritten.permitted, handwritten.permitted,
         facts, permitted),
        (f"our compiled, no trace ({decider_name}, decision in refund set)", "B", b_answer,
         b_answer, facts, permitted),
    ]
    for name, workload, timed, answer, inputs, want in ours:
        report.rows.append(measure(Row(name, workload, "reference"), timed, answer, inputs,
                                   want, settings))
    if use_peers:
        for module in peers.MODULES:
            report.rows.append(peer_row(peers.load(module), facts, expected, permitted,
                                        settings))
    for workload in ("A", "B"):
        base = _find(report, "hand-written Python if/elif", workload)
        for row in report.rows:
            if row.policy == "reference" and row.workload == workload and row.us is not None \
                    and base is not None and base.us:
                row.ratio = row.us / base.us


def peer_row(peer: peers.Peer | peers.Unavailable, facts: list[Any], expected: list[str],
             permitted: list[bool], settings: Settings) -> Row:
    if isinstance(peer, peers.Unavailable):
        return Row(peer.label, peer.workload, "reference", note=f"not available: {peer.reason}")
    row = Row(peer.label, peer.workload, "reference")
    try:
        prepared = [peer.adapter.prepare(case) for case in facts]
    except Exception as error:  # noqa: BLE001
        row.note = f"not available: {type(error).__name__}: {error}"[:200]
        return row
    want: Sequence[Any] = expected if peer.workload == "A" else permitted
    return measure(row, peer.adapter.decide, peer.adapter.decide, prepared, want, settings)


# ---------------------------------------------------------------- the AliExpress policy
def aliexpress_rows(settings: Settings, report: Report) -> None:
    policy = Policy.load(str(ALIEXPRESS_POLICY))
    raw_all = decimal_amounts(policy, aliexpress_cases(settings.cases, settings.seed))
    interpreted = functools.partial(policy.evaluate, engine="interpreted")
    traced = functools.partial(policy.evaluate, engine="compiled")
    raw: list[Any] = []
    facts: list[Any] = []
    expected: list[str] = []
    invalid = refused = 0
    for case in raw_all:
        try:
            decision = interpreted(case)
        except DiagnosticError:
            invalid += 1
            continue
        if decision.refused:
            refused += 1
            continue
        raw.append(case)
        facts.append(decision.facts)
        expected.append(decision.decision)
    raw_text = [{name: format(value, "f") if isinstance(value, Decimal) else value
                 for name, value in case.items()} for case in raw]
    report.cases["aliexpress"] = {"drawn": len(raw_all), "decided": len(facts),
                                  "invalid": invalid, "refused": refused,
                                  "seed": settings.seed,
                                  "decisions": dict(sorted(_count(expected).items()))}
    decider, decider_name, with_validation = _decider(policy)

    for name, timed, inputs in (
        (INTERPRETED, interpreted, facts),
        (f"our compiled, no trace ({decider_name})", decider, facts),
        (TRACED, traced, facts),
        (VALIDATED, with_validation, raw),
        (VALIDATED_TEXT, with_validation, raw_text),
    ):
        report.rows.append(measure(Row(name, "A", "aliexpress"), timed, decided(timed), inputs,
                                   expected, settings))


# ---------------------------------------------------------------- scaling and memory
def scaling_child(n_rules: int, count: int, check_cases: int, max_memory_rules: int,
                  seed: int) -> dict[str, Any]:
    """Runs in a child process: loads a generated policy of `n_rules` rules and measures it.

    Memory is measured by loading the policy a second time under tracemalloc, which makes
    loading about five times slower, so only up to `max_memory_rules` rules.
    """
    text = generate_policy(n_rules)
    name = f"generated_{n_rules}.policy"
    _warm_up()
    start = time.perf_counter()
    policy = Policy.from_text(text, name)
    result: dict[str, Any] = {"rules": n_rules, "load_s": time.perf_counter() - start}
    # a line per stage, so that a parent that stops this child for time keeps what it learnt
    print(json.dumps(result), flush=True)
    stage = FactStage(policy.checked.facts)
    facts = [stage.validate(case, file="<facts>") for case in random_facts(n_rules, count, seed)]
    decider = _decider(policy)[0]
    sample = facts[:check_cases]
    expected = [policy.evaluate(case).decision for case in sample]
    problem, _ = check(lambda case: decider(case).decision, sample, expected)
    result |= {"cases": len(facts), "note": problem}
    if not problem:
        result["us"] = time_per_decision(decider, facts, 3)
    if n_rules <= max_memory_rules:
        print(json.dumps(result), flush=True)
        result["memory_mib"] = _retained_mib(lambda: Policy.from_text(text, name))
    return result


def memory_child() -> dict[str, Any]:
    """Runs in a child process: MiB added by loading the AliExpress policy."""
    try:
        from benchmarks import memory  # written by a colleague (issue 8)
    except ImportError:
        memory = None  # type: ignore[assignment]
    # the brief named it measure_memory(); benchmarks/memory.py calls it engine_memory_mib()
    measure = getattr(memory, "measure_memory", None) or getattr(memory, "engine_memory_mib",
                                                                 None)
    if measure is None:
        # FALLBACK while benchmarks/memory.py is missing: what the loaded policy keeps
        _warm_up()
        return {"memory_mib": _retained_mib(lambda: Policy.load(str(ALIEXPRESS_POLICY))),
                "source": "fallback: benchmarks/memory.py missing",
                "method": "the Python memory the loaded policy keeps, by tracemalloc"}
    return {"memory_mib": float(measure()),
            "source": f"benchmarks/memory.py {measure.__name__}()",
            "method": "peak resident memory of a fresh process that loads the policy and "
                      "decides once, minus a bare Python's"}


def run_child(args: list[str], timeout: float) -> dict[str, Any]:
    """Runs this script in a child process and returns the JSON it prints."""
    try:
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                              capture_output=True, text=True, timeout=timeout, check=False,
                              cwd=ROOT)
    except subprocess.TimeoutExpired as stopped:
        output = stopped.stdout or b""
        text = output.decode() if isinstance(output, bytes) else output
        lines = [line for line in text.splitlines() if line.endswith("}")]
        partial: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        partial["error"] = f"stopped after {timeout:.0f} s"
        return partial
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        return {"error": f"exit {done.returncode}: {lines[-1][:200]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def scaling_rows(settings: Settings, report: Report, deadline: float | None) -> None:
    """One child process per size; with a deadline (--quick), a child that would overrun it is
    stopped and its row says so."""
    for n_rules in SCALING_RULES:
        timeout = 900.0 if deadline is None else max(5.0, deadline - time.perf_counter())
        result = run_child(["--scaling-child", str(n_rules), "--cases",
                            str(settings.scaling_cases), "--seed", str(settings.seed)]
                           + (["--quick"] if deadline is not None else []), timeout)
        result.setdefault("rules", n_rules)
        report.scaling.append(result)


# ---------------------------------------------------------------- targets
def targets(report: Report, memory: dict[str, Any]) -> list[Target]:
    found: list[Target] = []
    base = _find(report, "hand-written Python if/elif", "A")
    compiled = _find_prefix(report, "our compiled, no trace", "A", "reference")
    traced = _find_prefix(report, "our compiled, with trace", "A", "reference")
    validated = _find(report, VALIDATED, "A")

    def ratio_target(name: str, row: Row | None, limit: float) -> Target:
        if row is None or row.ratio is None:
            return Target(name, f"<= {limit:g}x", "not measured", None,
                          row.note if row else "no row")
        return Target(name, f"<= {limit:g}x hand-written", f"{row.ratio:.2f}x "
                      f"({_us(row.us)} µs)", row.ratio <= limit)

    found.append(ratio_target("compiled, no trace", compiled, 2))
    found.append(ratio_target("compiled, with validation of raw facts (amounts as Decimal)",
                              validated, 5))

    timed_peers = [row for row in report.rows if _is_peer(row) and row.us is not None]
    if timed_peers:
        fastest = min(timed_peers, key=lambda row: row.us or 0.0)
        limit_us = fastest.us or 0.0
        basis = f"fastest peer measured: {fastest.engine.split(' (')[0]}, " \
                f"workload {fastest.workload}, {_us(limit_us)} µs"
    elif base is not None and base.us is not None:
        limit_us = FALLBACK_PEER_RATIO * base.us
        basis = f"no peer available: {FALLBACK_PEER_RATIO:g}x hand-written from " \
                "shared/bench/reference-policy.md"
    else:
        limit_us = 0.0
        basis = "no peer and no hand-written figure"
    if traced is None or traced.us is None or not limit_us:
        found.append(Target("compiled, with trace", "< fastest peer", "not measured", None,
                            basis))
    else:
        found.append(Target("compiled, with trace", f"< {_us(limit_us)} µs",
                            f"{_us(traced.us)} µs", traced.us < limit_us, basis))

    big = next((row for row in report.scaling if row.get("rules") == 10_000), {})
    if compiled is not None and compiled.us and big.get("us") is not None:
        times = big["us"] / compiled.us
        found.append(Target("10,000 rules: per decision", "<= 10x the 12-rule policy",
                            f"{times:.2f}x ({_us(big['us'])} µs)", times <= 10,
                            "generated policy against the reference policy, compiled, "
                            "no trace"))
    else:
        found.append(Target("10,000 rules: per decision", "<= 10x the 12-rule policy",
                            "not measured", None, big.get("error") or big.get("note") or ""))
    if big.get("load_s") is not None:
        found.append(Target("10,000 rules: parse + check + compile", "<= 5 s",
                            f"{big['load_s']:.2f} s", big["load_s"] <= 5))
    elif str(big.get("error", "")).startswith("stopped"):
        # stopped before the policy had loaded: the load took at least that long
        found.append(Target("10,000 rules: parse + check + compile", "<= 5 s",
                            f"more than {big['error'].split()[-2]} s (stopped)",
                            float(big["error"].split()[-2]) <= 5))
    else:
        found.append(Target("10,000 rules: parse + check + compile", "<= 5 s", "not measured",
                            None, big.get("error", "")))
    if memory.get("memory_mib") is not None:
        found.append(Target("memory added by loading the AliExpress policy", "<= 30 MiB",
                            f"{memory['memory_mib']:.1f} MiB", memory["memory_mib"] <= 30,
                            memory.get("source", "")))
    else:
        found.append(Target("memory added by loading the AliExpress policy", "<= 30 MiB",
                            "not measured", None, memory.get("error", "")))
    return found


# ---------------------------------------------------------------- printing
def markdown(report: Report, settings: Settings) -> str:
    lines = [f"Cases: {settings.cases:,} per policy (seed {settings.seed}), "
             f"{settings.repeats} repeats, median per decision.", ""]
    lines += ["| engine | workload | µs per decision | x hand-written Python |",
              "|---|---|---:|---:|"]
    for row in report.rows:
        policy = "" if row.policy == "reference" else " — AliExpress policy"
        engine = f"{row.engine}{policy}"
        if row.us is None:
            lines.append(f"| {engine} | {row.workload} | {row.note} | |")
            continue
        ratio = _ratio(row.ratio) if row.ratio is not None else "—"
        note = f" ({row.note})" if row.note else ""
        lines.append(f"| {engine}{note} | {row.workload} | {_us(row.us)} | {ratio} |")
    lines += ["", "| target | limit | measured | result |", "|---|---|---|---|"]
    for target in report.targets:
        result = {True: "PASS", False: "**FAIL**", None: "NOT MEASURED"}[target.passed]
        note = f" ({target.note})" if target.note else ""
        lines.append(f"| {target.name}{note} | {target.limit} | {target.measured} | "
                     f"{result} |")
    lines += ["", "| rules | parse + check + compile (s) | µs per decision | memory (MiB) |",
              "|---:|---:|---:|---:|"]
    for size in report.scaling:
        load = f"{size['load_s']:.2f}" if "load_s" in size else size.get("error", "")
        if "memory_mib" in size:
            memory = f"{size['memory_mib']:.1f}"
        elif size["rules"] > settings.memory_rules:
            memory = "full run only"
        else:
            memory = "stopped" if "error" in size else ""
        if size.get("us") is not None:
            per = _us(size["us"])
        else:
            per = size.get("note") or (size.get("error", "") if "load_s" in size else "")
        lines.append(f"| {size['rules']:,} | {load} | {per} | {memory} |")
    return "\n".join(lines) + "\n"


def _us(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value:.3f}"
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _ratio(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


# ---------------------------------------------------------------- helpers
def _decider(policy: Policy) -> tuple[Fn, str, Fn]:
    """The compiled hot-loop function on validated facts, its name, and the one that validates
    raw facts and decides on them."""
    return policy.decider(validated=True), "decider(validated=True)", policy.decider()


def decimal_amounts(policy: Policy, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The raw cases as the engine's readers give them: amounts as `Decimal`, which is what
    `policy batch` (JSON with `parse_float=Decimal`) and scenario files produce."""
    amounts = {info.name for info in policy.checked.facts if isinstance(info.type, AmountType)}
    return [{name: Decimal(value) if name in amounts and isinstance(value, str) else value
             for name, value in case.items()} for case in cases]


def decided(fn: Fn) -> Fn:
    """A timed function reduced to its decision name, for the correctness check."""
    return lambda case: fn(case).decision


def _warm_up() -> None:
    """Builds what a process builds once, whatever it loads (the Lark parser, imports), so that
    load time and memory are the policy's own."""
    Policy.from_text(generate_policy(1), "warm_up.policy")


def _retained_mib(load: Callable[[], Policy]) -> float:
    """MiB of Python memory that the policy `load` returns keeps (after garbage collection),
    by tracemalloc: the policy's own footprint, not the transient memory of loading it."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        policy = load()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del policy
    return (after - before) / 2**20


def _progress(stage: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:5.1f} s] {stage} done", file=sys.stderr, flush=True)


def _count(values: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _find(report: Report, engine: str, workload: str) -> Row | None:
    return next((row for row in report.rows if row.engine == engine
                 and row.workload == workload and row.policy == "reference"), None)


def _find_prefix(report: Report, prefix: str, workload: str, policy: str) -> Row | None:
    return next((row for row in report.rows if row.engine.startswith(prefix)
                 and row.workload == workload and row.policy == policy), None)


def _is_peer(row: Row) -> bool:
    return row.policy == "reference" and not row.engine.startswith(("our ", "hand-written"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3,000 cases and a smaller timing budget (under two minutes)")
    parser.add_argument("--cases", type=int, help="cases per policy (default 20,000)")
    parser.add_argument("--seed", type=int, help="random seed of the cases")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--no-peers", action="store_true", help="skip the peer engines")
    parser.add_argument("--no-scaling", action="store_true",
                        help="skip the scaling rows (and their targets)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--scaling-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.cases is not None:
        settings = replace(settings, cases=args.cases,
                           scaling_cases=min(args.cases, settings.scaling_cases))
    if args.seed is not None:
        settings = replace(settings, seed=args.seed)
    if args.scaling_child is not None:
        print(json.dumps(scaling_child(args.scaling_child, settings.scaling_cases,
                                       settings.scaling_checks, settings.memory_rules,
                                       settings.seed)))
        return 0
    if args.memory_child:
        print(json.dumps(memory_child()))
        return 0

    started = time.perf_counter()
    report = Report()
    reference_rows(settings, report, use_peers=not args.no_peers)
    _progress("reference policy", started)
    aliexpress_rows(settings, report)
    _progress("AliExpress policy", started)
    memory = run_child(["--memory-child"], 300)
    _progress("memory", started)
    if not args.no_scaling:
        scaling_rows(settings, report, started + QUICK_DEADLINE if args.quick else None)
        _progress("scaling", started)
    report.targets = targets(report, memory)
    sys.stdout.write(markdown(report, settings))
    failed = [target.name for target in report.targets if target.passed is False]
    unmeasured = [target.name for target in report.targets if target.passed is None]
    print()
    if failed:
        print(f"FAIL: {len(failed)} of {len(report.targets)} targets failed: "
              + "; ".join(failed))
    else:
        print(f"all {len(report.targets) - len(unmeasured)} measured targets passed")
    if unmeasured:
        print(f"NOT MEASURED: {'; '.join(unmeasured)}")
    results = {
        "settings": asdict(settings) | {"quick": args.quick},
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "cases": report.cases,
        "engines": [asdict(row) for row in report.rows],
        "targets": [asdict(target) for target in report.targets],
        "scaling": report.scaling,
        "memory": memory,
    }
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
