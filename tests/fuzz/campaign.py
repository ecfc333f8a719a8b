"""The fuzz campaign: many seeded inputs per target, each under a watchdog, with a summary.

    python -m tests.fuzz.campaign --inputs 100000 --seed 1
    python -m tests.fuzz.campaign --inputs 2000 --targets row cli --save failures/

Each input is made from its own seed (the campaign's seed and its number), so any failure
can be made again alone with `--only TARGET:NUMBER`. An input fails when the engine breaks a
promise (`targets.Failure`), raises anything but a diagnostic, or runs longer than the
watchdog allows (a hang). The summary counts inputs, internal errors, tracebacks (any other
exception) and hangs per target; the exit status is 1 when any input failed.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.targets import TARGETS, Failure, Hang

#: The longest one input may run before it counts as a hang.
WATCHDOG_SECONDS = 20.0


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raises `Hang` in the running code when it takes longer than `seconds`."""
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Tally:
    """What one target's inputs gave."""

    inputs: int = 0
    internal: int = 0  # the engine broke a promise: exit 4, a traceback in its output
    exceptions: int = 0  # an exception other than a diagnostic escaped
    hangs: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.internal + self.exceptions + self.hangs


def run_one(target: str, seed: int, number: int, folder: Path,
            seconds: float = WATCHDOG_SECONDS) -> str | None:
    """Runs one input; returns None when the engine kept its promises, else why not."""
    rng = random.Random(f"{seed}:{target}:{number}")
    try:
        with watchdog(seconds):
            TARGETS[target](rng, folder)
    except Failure as failure:
        return f"internal: {failure}"
    except Hang as hang:
        return f"hang: {hang}"
    except Exception:  # noqa: BLE001 - exactly what the campaign looks for
        return "exception: " + traceback.format_exc(limit=6)
    return None


def campaign(targets: list[str], inputs: int, seed: int, *, save: Path | None = None,
             seconds: float = WATCHDOG_SECONDS, progress: bool = False) -> dict[str, Tally]:
    """Runs `inputs` inputs spread over `targets`; returns the tallies by target."""
    tallies = {target: Tally() for target in targets}
    with tempfile.TemporaryDirectory(prefix="policy-fuzz-") as work:
        folders = {target: Path(work) / target for target in targets}
        for folder in folders.values():
            folder.mkdir()
        for number in range(inputs):
            target = targets[number % len(targets)]
            tally = tallies[target]
            tally.inputs += 1
            why = run_one(target, seed, number, folders[target], seconds)
            if why is not None:
                kind = why.split(":", 1)[0]
                if kind == "hang":
                    tally.hangs += 1
                elif kind == "internal":
                    tally.internal += 1
                else:
                    tally.exceptions += 1
                if len(tally.examples) < 5:
                    tally.examples.append(f"{target}:{number}: {why}")
                if save is not None:
                    save.mkdir(parents=True, exist_ok=True)
                    (save / f"{target}-{number}.txt").write_text(why, encoding="utf-8",
                                                          errors="backslashreplace")
            if progress and number and number % 1000 == 0:
                print(f"  {number:,} inputs", file=sys.stderr, flush=True)
    return tallies


def summary(tallies: dict[str, Tally], seconds: float) -> str:
    lines = ["| target | inputs | internal errors | exceptions | hangs |",
             "|---|---:|---:|---:|---:|"]
    for target, tally in tallies.items():
        lines.append(f"| {target} | {tally.inputs:,} | {tally.internal} | {tally.exceptions} | "
                     f"{tally.hangs} |")
    total = sum(t.inputs for t in tallies.values())
    failed = sum(t.failed for t in tallies.values())
    lines.append(f"\n{total:,} inputs in {seconds:.0f} s, {failed} failed")
    for tally in tallies.values():
        lines.extend(tally.examples)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--targets", nargs="+", choices=sorted(TARGETS), default=list(TARGETS))
    parser.add_argument("--watchdog", type=float, default=WATCHDOG_SECONDS)
    parser.add_argument("--save", type=Path, default=None, help="write each failure here")
    parser.add_argument("--only", default=None, metavar="TARGET:NUMBER",
                        help="run one input again, with its traceback")
    options = parser.parse_args(argv)
    if options.only:
        target, _, number = options.only.partition(":")
        with tempfile.TemporaryDirectory() as work:
            why = run_one(target, options.seed, int(number), Path(work), options.watchdog)
        print((why or "kept every promise").encode("utf-8", "backslashreplace").decode())
        return 1 if why else 0
    start = time.monotonic()
    tallies = campaign(options.targets, options.inputs, options.seed, save=options.save,
                       seconds=options.watchdog, progress=True)
    print(summary(tallies, time.monotonic() - start))
    return 1 if any(t.failed for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
