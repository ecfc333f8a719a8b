"""Metrics: counters, gauges and a latency histogram, shown in Prometheus' text format.

Kept in the process that counts them (with several workers, each reports its own, labelled
with its process id, and a scraper through the one port sees whichever worker answers; see
docs/serve.md). Names start with `policy_`; label values are escaped as the format requires.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable

#: Upper bounds (seconds) of the latency histogram's buckets.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Metrics:
    """Everything the server counts; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = {}
        self._gauges: dict[str, dict[Labels, float]] = {}
        self._histograms: dict[Labels, list[float]] = {}  # bucket counts, then sum, count
        self._worker = (("worker", str(os.getpid())),)

    # ------------------------------------------------------------ counting
    def _add(self, name: str, labels: Labels, amount: float = 1) -> None:
        with self._lock:
            family = self._counters.setdefault(name, {})
            family[labels] = family.get(labels, 0) + amount

    def _set(self, name: str, labels: Labels, value: float) -> None:
        with self._lock:
            self._gauges.setdefault(name, {})[labels] = value

    def decided(self, policy: str, outcomes: Iterable[str], seconds: float) -> None:
        """Decisions made for one request, by outcome (a decision's name, or `refused`),
        and the request's latency."""
        with self._lock:
            family = self._counters.setdefault("policy_decisions_total", {})
            for outcome in outcomes:
                key = (("policy", policy), ("outcome", outcome))
                family[key] = family.get(key, 0) + 1
            buckets = self._histograms.get((("policy", policy),))
            if buckets is None:
                buckets = self._histograms[(("policy", policy),)] = [0.0] * (len(BUCKETS) + 2)
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[index] += 1
            buckets[-2] += seconds
            buckets[-1] += 1

    def request(self, endpoint: str, status: int) -> None:
        self._add("policy_http_requests_total", (("endpoint", endpoint),
                                                 ("status", str(status))))

    def reload(self, policy: str, result: str) -> None:
        self._add("policy_reloads_total", (("policy", policy), ("result", result)))

    def policies(self, served: int, problems: int) -> None:
        self._set("policy_policies_served", (), served)
        self._set("policy_policy_files_rejected", (), problems)

    def log_written(self, lines: int) -> None:
        self._add("policy_decision_log_writes_total", (), lines)

    def log_failed(self, lines: int) -> None:
        self._add("policy_decision_log_failures_total", ())
        if lines:
            self._add("policy_decision_log_lines_failed_total", (), lines)

    def log_lost(self, lines: int) -> None:
        self._add("policy_decision_log_lines_lost_total", (), lines)

    def log_pending(self, lines: int) -> None:
        self._set("policy_decision_log_lines_pending", (), lines)

    def log_rotated(self) -> None:
        self._add("policy_decision_log_rotations_total", ())

    def log_healthy(self, healthy: bool) -> None:
        self._set("policy_decision_log_healthy", (), 1 if healthy else 0)

    def internal_error(self) -> None:
        self._add("policy_internal_errors_total", ())

    # ------------------------------------------------------------ showing
    def render(self) -> str:
        """The Prometheus text exposition format, version 0.0.4."""
        lines: list[str] = []
        worker = self._worker
        with self._lock:
            for name, help_text in _COUNTERS:
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
                for labels, value in sorted(self._counters.get(name, {}).items()):
                    lines.append(f"{name}{_labels(worker + labels)} {_number(value)}")
            for name, help_text in _GAUGES:
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
                for labels, value in sorted(self._gauges.get(name, {}).items()):
                    lines.append(f"{name}{_labels(worker + labels)} {_number(value)}")
            name = "policy_decision_duration_seconds"
            lines += [f"# HELP {name} Time to answer a decide or decide-many request, from "
                      "its body read to its answer ready (the decision log line written).",
                      f"# TYPE {name} histogram"]
            for labels, buckets in sorted(self._histograms.items()):
                for bound, count in zip(BUCKETS, buckets, strict=False):
                    bucket = worker + labels + (("le", _number(bound)),)
                    lines.append(f"{name}_bucket{_labels(bucket)} {_number(count)}")
                lines.append(f"{name}_bucket{_labels(worker + labels + (('le', '+Inf'),))} "
                             f"{_number(buckets[-1])}")
                lines.append(f"{name}_sum{_labels(worker + labels)} {repr(buckets[-2])}")
                lines.append(f"{name}_count{_labels(worker + labels)} {_number(buckets[-1])}")
        return "\n".join(lines) + "\n"


_COUNTERS = (
    ("policy_decisions_total", "Decisions made, by policy and outcome (the decision's name, "
                               "or refused)."),
    ("policy_http_requests_total", "HTTP requests answered, by endpoint and status."),
    ("policy_reloads_total", "Policy file changes, by policy and result (applied, rejected, "
                             "removed)."),
    ("policy_decision_log_writes_total", "Decision log lines written."),
    ("policy_decision_log_failures_total", "Writes (or syncs) to the decision log that "
                                           "failed."),
    ("policy_decision_log_lines_failed_total", "Decision log lines whose write failed (kept "
                                               "in memory or refused, never dropped "
                                               "silently)."),
    ("policy_decision_log_lines_lost_total", "Decision log lines that could never be written."),
    ("policy_decision_log_rotations_total", "Decision log files closed for being full."),
    ("policy_internal_errors_total", "Requests that failed with an internal error (500)."),
)
_GAUGES = (
    ("policy_policies_served", "Policies being served."),
    ("policy_policy_files_rejected", "Policy files whose current text is not served."),
    ("policy_decision_log_healthy", "1 when the last decision log write succeeded, else 0."),
    ("policy_decision_log_lines_pending", "Decision log lines kept in memory until the log "
                                          "can be written."),
)
