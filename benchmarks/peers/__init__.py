"""Adapters that express the reference policy in other rule engines, for benchmarks/run.py.

Each module here is one peer engine. It names its PyPI distribution (`PACKAGE`), the workload
it answers (`WORKLOAD`: "A" the decision, "B" whether a refund is permitted), how it is
called (`HOW`), which of its APIs it uses when it is listed more than once (`VARIANT`, shown
in its label), and a `build()` that compiles the policy once and returns an adapter with:

- `prepare(facts)`: the typed facts (`Decision.facts`), turned into the engine's own
  input (amounts as floats, the engine's value types); done once per case, outside the timing;
- `decide(prepared)`: the bare decision call that is timed, returning the decision name
  (workload A) or a bool (workload B);
- `decide_facts(facts)`: both at once, for checks.

`load(module)` imports and builds one; a package that is missing or does not work here gives a
`Unavailable` with the reason, which the benchmark reports instead of failing.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

#: The adapter modules, in the order of the table in shared/bench/reference-policy.md.
MODULES = ("cel_rust", "zen_expression", "zen_jdm", "businessrules", "ruleengine", "cedar",
           "rego", "celpython")


class Adapter(Protocol):
    def prepare(self, facts: Mapping[str, Any]) -> Any: ...

    def decide(self, prepared: Any) -> Any: ...


@dataclass(frozen=True)
class Peer:
    """A peer engine ready to decide: its package and version, workload, and adapter."""

    module: str
    package: str
    version: str
    workload: str
    how: str
    adapter: Adapter
    variant: str = ""

    @property
    def label(self) -> str:
        shown = f"{self.package} {self.version}"
        return f"{shown} ({self.variant})" if self.variant else shown

    def decide_facts(self, facts: Mapping[str, Any]) -> Any:
        return self.adapter.decide(self.adapter.prepare(facts))


@dataclass(frozen=True)
class Unavailable:
    """A peer engine that cannot run here, and why."""

    module: str
    package: str
    workload: str
    reason: str
    variant: str = ""

    @property
    def label(self) -> str:
        return f"{self.package} ({self.variant})" if self.variant else self.package


def load(module: str) -> Peer | Unavailable:
    """Imports the adapter `module` and builds it; any failure becomes an `Unavailable`."""
    mod = importlib.import_module(f"{__name__}.{module}")
    package: str = mod.PACKAGE
    variant: str = getattr(mod, "VARIANT", "")
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return Unavailable(module, package, mod.WORKLOAD,
                           "not installed (pip install -e '.[bench]')", variant)
    try:
        adapter = mod.build()
    except Exception as error:  # noqa: BLE001 - any failure of a third-party package is reported
        return Unavailable(module, package, mod.WORKLOAD,
                           f"{type(error).__name__}: {error}"[:200], variant)
    return Peer(module, package, version, mod.WORKLOAD, mod.HOW, adapter, variant)
