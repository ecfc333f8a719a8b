"""Load benchmark of `policy serve`: decisions per second and latency over loopback HTTP.

    python benchmarks/serve.py [--requests N] [--connections C] [--workers 1 2]

Starts `policy serve` on 127.0.0.1 (a free port) over a copy of the AliExpress policy with the
decision log on (a folder, fsync every second: the defaults), drives it with a bounded number
of requests from keep-alive connections (an asyncio client in this process, speaking
HTTP/1.1 itself so the client costs little), and prints, for each server setting, decisions
per second and the p50 and p99 latency of one request:

- decide, `?explain=none`: the decision alone;
- decide, `?explain=summary`: and each rule's outcome;
- decide, `?explain=full`: and the whole explanation (the default of the endpoint);
- decide-many of 100 fact sets, `?explain=none`;

and, as the baseline, `GET /health`: HTTP alone on the same connections, no deciding. The rows
run in `--rounds` interleaved rounds (each round runs every row once), so a change in the
machine's load touches every row alike; each row's speed is also printed as a ratio to the
baseline's requests per second. The server's processes' CPU time (user and system, from
/proc, read before and after each row) gives its own cost per decision (per request for the
baseline), HTTP and the decision log included, whatever the client costs.

Every answer is checked (status 200, and one log line per decision at the end), so a row can
never count failures as speed. The client and the server share the machine's cores: the
figures are for the whole loop on one machine, not for the server alone. Not a test: nothing
here has a threshold (docs/serve.md shows figures and the command that made them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.cases import ALIEXPRESS_POLICY, aliexpress_cases  # noqa: E402

NAME = "aliexpress_refunds"


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(type(value).__name__)


def fact_bodies(count: int) -> list[bytes]:
    """JSON bodies of AliExpress fact sets that the policy decides (refusals left out)."""
    from policy_engine import DiagnosticError, Policy

    policy = Policy.load(str(ALIEXPRESS_POLICY))
    bodies = []
    for facts in aliexpress_cases(count * 2, seed=7):
        try:
            if policy.evaluate(facts, engine="compiled").refused:
                continue
        except DiagnosticError:
            continue
        bodies.append(json.dumps(facts, default=_plain).encode())
        if len(bodies) == count:
            break
    return bodies


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`policy serve` in a subprocess, with its decision log in a folder of its own."""

    def __init__(self, folder: Path, workers: int) -> None:
        self.port = _free_port()
        self.logs = folder / f"logs-{workers}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "policy_engine", "serve", "policies", "--port",
             str(self.port), "--workers", str(workers), "--decision-log", str(self.logs)],
            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                url = f"http://127.0.0.1:{self.port}/ready"
                with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        time.sleep(1.0 if workers > 1 else 0.2)  # every worker up and listening

    def lines(self) -> int:
        return sum(p.read_bytes().count(b"\n") for p in self.logs.glob("*.jsonl"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def _connection(port: int, requests: list[bytes], budget: list[int],
                      latencies: list[float], failures: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while budget[0] > 0:
            budget[0] -= 1
            request = requests[budget[0] % len(requests)]
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                failures.append(head.split(b"\r\n", 1)[0].decode())
    finally:
        writer.close()


def _requests(port: int, path: str, bodies: list[bytes]) -> list[bytes]:
    if not bodies:  # the baseline: a GET, no body
        return [f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()]
    return [(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
             f"application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            for body in bodies]


def cpu_seconds(root: int) -> float:
    """The CPU time (user and system) of process `root` and its descendants (the workers)
    so far, from /proc; 0 where there is no /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid: (parent, seconds)
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    family = {root}
    grown = True
    while grown:  # children, then their children (pids may wrap around: no order assumed)
        before = len(family)
        family |= {pid for pid, (parent, _) in stats.items() if parent in family}
        grown = len(family) > before
    return sum(stats[pid][1] for pid in family if pid in stats)


def drive(port: int, path: str, bodies: list[bytes], count: int,
          connections: int) -> tuple[float, list[float]]:
    """Sends `count` requests over `connections` connections; (seconds, latencies)."""
    requests = _requests(port, path, bodies)
    latencies: list[float] = []
    failures: list[str] = []
    budget = [count]

    async def main() -> None:
        await asyncio.gather(*(_connection(port, requests, budget, latencies, failures)
                               for _ in range(connections)))

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, first: {failures[0]}")
    return elapsed, latencies


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Row:
    """One kind of request, and what was measured of it over every round."""

    label: str
    path: str
    bodies: list[bytes]
    count: int  # requests per round
    per_request: int  # decisions per request (0 for the baseline)
    seconds: float = 0.0
    requests: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu: float = 0.0  # the server's CPU seconds

    def report(self, workers: int, baseline: float) -> str:
        per_second = self.requests / self.seconds
        rate = f"{per_second * self.per_request:,.0f}" if self.per_request else "-"
        cost = self.cpu / (self.requests * max(1, self.per_request)) * 1e6
        return (f"{workers:>7}  {self.label:<32} {rate:>12} "
                f"{_percentile(self.latencies, 0.5) * 1000:>8.2f} "
                f"{_percentile(self.latencies, 0.99) * 1000:>8.2f} "
                f"{per_second / baseline:>10.2f} {cost:>13.0f}")


def _rows(per_round: int, bodies: list[bytes], many: list[bytes]) -> list[Row]:
    base = f"/v1/policies/{NAME}"
    return [
        Row("GET /health (HTTP alone)", "/health", [], per_round, 0),
        Row("decide, explain=none", f"{base}/decide?explain=none", bodies, per_round, 1),
        Row("decide, explain=summary", f"{base}/decide?explain=summary", bodies, per_round, 1),
        Row("decide, explain=full", f"{base}/decide?explain=full", bodies,
            max(1, per_round // 10), 1),
        Row("decide-many x100, explain=none", f"{base}/decide-many?explain=none", many,
            max(1, per_round // 100), 100),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000,
                        help="requests per row for the fast rows, over all rounds "
                             "(explain=full and decide-many get a tenth)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds: each runs every row once")
    options = parser.parse_args()
    bodies = fact_bodies(500)
    many = [b"[" + b",".join(bodies[i:i + 100]) + b"]" for i in range(0, 500, 100)]
    per_round = max(1, options.requests // options.rounds)
    print(f"policy serve, AliExpress policy ({len(bodies)} fact sets), decision log on "
          f"(folder, fsync every 1 s), {options.connections} keep-alive connections, "
          f"{options.rounds} interleaved rounds, {os.cpu_count()} cores shared by client and "
          "server.\n'vs /health': the row's requests per second over the baseline's; "
          "'server CPU us': the server's CPU time per decision (per request for /health)")
    print(f"{'workers':>7}  {'row':<32} {'decisions/s':>12} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'vs /health':>10} {'server CPU us':>13}")
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as temporary:
        folder = Path(temporary)
        (folder / "policies").mkdir()
        shutil.copy(ALIEXPRESS_POLICY, folder / "policies" / "refund.policy")
        for workers in options.workers:
            rows = _rows(per_round, bodies, many)
            server = Server(folder, workers)
            try:
                drive(server.port, rows[1].path, bodies, 500, options.connections)  # warm up
                sent = 500
                for _ in range(options.rounds):
                    for row in rows:
                        before = cpu_seconds(server.process.pid)
                        elapsed, latencies = drive(server.port, row.path, row.bodies,
                                                   row.count, options.connections)
                        row.cpu += cpu_seconds(server.process.pid) - before
                        row.seconds += elapsed
                        row.requests += row.count
                        row.latencies += latencies
                        sent += row.count * row.per_request
            finally:
                server.stop()
            baseline = rows[0].requests / rows[0].seconds
            for row in rows:
                print(row.report(workers, baseline), flush=True)
            logged = server.lines()
            if logged != sent:
                raise SystemExit(f"{sent} decisions answered but {logged} log lines written")
    print("every answer was 200 and every decision has its line in the decision log")


if __name__ == "__main__":
    main()
