"""Start-up: `policy eval` on one AliExpress scenario against `python -c "import click, yaml"`.

Both are started cold, as fresh processes, in the same run and interleaved (bare, eval, eval
without the cache, bare, eval, ...), several times; each figure is the median wall time of
its runs, and the target is the ratio of the medians (the processor time each used is reported
beside it: a machine shared with other work stretches wall times, less so processor time).
One untimed run of each first lets Python write its bytecode caches and the engine fill its
cache of checked policies (in a folder of its own), as on any machine after the first run
(`benchmarks/processes.py` says what the children get).

What is measured is what a user gets: by default (`--install wheel`) the checkout is built as
a wheel (`python -m build`, as `.ci/run` does; the `dev` extra has it) and installed, compiled,
into a scratch virtual environment whose Python runs both commands; the libraries it needs are
read from this environment (through a `.pth` file, which runs none of this environment's own
`.pth` files).
`--install editable` runs this environment's `policy` instead: an editable install, whose
import hook every Python started here loads (the bare imports too), which flatters the ratio.

    python benchmarks/startup.py [--runs 9] [--install wheel|editable]
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.processes import environment  # noqa: E402

SCENARIO = "policies/aliexpress/scenarios/never_arrived_after_50_days.yaml"
BARE = "python -c \"import click, yaml\""
EVAL = f"policy eval {SCENARIO}"
EVAL_NO_CACHE = f"POLICY_ENGINE_CACHE=0 {EVAL}"


def _policy_command() -> list[str]:
    """The `policy` command as installed beside this Python, else `python -m policy_engine`."""
    script = Path(sys.executable).with_name("policy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "policy_engine"]


#: The ways the engine can be installed for the measurement (the first is the default).
INSTALLS = ("wheel", "editable")


@contextlib.contextmanager
def installed(kind: str, scratch: Path) -> Iterator[tuple[str, list[str]]]:
    """The Python and the `policy` command of this checkout installed as `kind` asks."""
    if kind == "editable":
        yield sys.executable, _policy_command()
        return
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir",
                            str(scratch / "dist"), str(ROOT)], capture_output=True, check=False)
    wheels = sorted((scratch / "dist").glob("*.whl"))
    if built.returncode != 0 or not wheels:
        raise RuntimeError("could not build the wheel: "
                           + built.stderr.decode(errors="replace")[-300:])
    venv.create(scratch / "venv", with_pip=False)
    bin_folder = "Scripts" if sys.platform == "win32" else "bin"
    python = scratch / "venv" / bin_folder / Path(sys.executable).name
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    libraries = dict.fromkeys([sysconfig.get_paths()["purelib"],
                               sysconfig.get_paths()["platlib"]])
    Path(site, "startup-libraries.pth").write_text("\n".join(libraries) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheels[-1])], capture_output=True, check=True)
    yield str(python), [str(python.with_name("policy"))]


def commands(python: str = sys.executable, policy: list[str] | None = None,
             cache_home: Path | None = None) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each measured command, by its label, with its environment: `python` runs the bare
    imports and `policy` the engine (this environment's by default); the cache of checked
    policies is kept under `cache_home` when given."""
    policy = policy or _policy_command()
    extra = {"XDG_CACHE_HOME": str(cache_home)} if cache_home is not None else {}

    def env(cache: bool | None = None) -> dict[str, str]:
        chosen = {**environment(cache=cache), **extra}
        if python != sys.executable:  # an installed engine: the checkout is not on the path
            chosen.pop("PYTHONPATH", None)
        return chosen

    return {
        BARE: ([python, "-c", "import click, yaml"], env()),
        EVAL: ([*policy, "eval", SCENARIO], env(cache=True)),
        EVAL_NO_CACHE: ([*policy, "eval", SCENARIO], env(cache=False)),
    }


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Runs a command; returns its wall time and the processor time it used (user and
    system, from the children's resource usage), which a busy machine disturbs less."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: "
                           f"{done.stderr.decode(errors='replace')[-300:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def measure(runs: int = 9, install: str = INSTALLS[0]) -> dict[str, Any]:
    """Median seconds of each command over `runs` interleaved rounds, and the target's ratio,
    with the engine installed as `install` says (`INSTALLS`)."""
    with tempfile.TemporaryDirectory(prefix="policy-startup-") as scratch, \
            installed(install, Path(scratch)) as (python, policy):
        cache_home = Path(scratch, "cache")
        cache_home.mkdir(mode=0o700)
        result = _measure(commands(python, policy, cache_home), runs)
    return {**result, "install": install}


def _measure(chosen: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict[str, Any]:
    """The order inside a round turns each round, so no command always runs right after the
    same other one."""
    for argv, env in chosen.values():
        _run(argv, env)  # bytecode caches written, the policy's cache entry filled
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in chosen}
    labels = list(chosen)
    for round_ in range(runs):
        for label in labels[round_ % len(labels):] + labels[:round_ % len(labels)]:
            times[label].append(_run(*chosen[label]))
    medians = {label: statistics.median(wall for wall, _ in values)
               for label, values in times.items()}
    cpu = {label: statistics.median(used for _, used in values)
           for label, values in times.items()}
    return {"runs": runs, "seconds": medians, "cpu_seconds": cpu,
            "ratio": medians[EVAL] / medians[BARE],
            "ratio_no_cache": medians[EVAL_NO_CACHE] / medians[BARE],
            "ratio_cpu": cpu[EVAL] / cpu[BARE]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds of the three commands")
    parser.add_argument("--install", choices=INSTALLS, default=INSTALLS[0],
                        help="how the engine is installed: a wheel in a scratch environment "
                             "(what a user gets), or this environment's editable install")
    arguments = parser.parse_args()
    result = measure(arguments.runs, arguments.install)
    print(f"engine installed as: {result['install']}")
    for label, seconds in result["seconds"].items():
        print(f"{label}: {seconds * 1000:.0f} ms, {result['cpu_seconds'][label] * 1000:.0f} ms "
              f"of processor time (medians of {result['runs']})")
    print(f"policy eval / bare imports: {result['ratio']:.2f}x "
          f"({result['ratio_no_cache']:.2f}x without the cache; "
          f"{result['ratio_cpu']:.2f}x in processor time)")


if __name__ == "__main__":
    main()
