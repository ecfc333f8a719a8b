"""Budget: the analysis stage's allowance of work, counted in steps, not seconds.

A *step* is one unit of work where the analysis does it: a cell of a decision-diagram node
built (so the diagrams' memory is bounded by the steps too), an item of a formula built or
turned into a region, a node visited when a region is read, a part of a witness candidate
evaluated. Counting work rather than time keeps the findings the same on every machine.

Each rule, constraint and finding is an *item* that may spend at most a tenth of
the budget; past it the item stops where it is (`OverBudget`) and the analysis goes on with
the next one, so one rule that blows up cannot starve the others. When the whole budget is
spent, everything not yet done is reported as not analysed. Only the optional time limit
(`seconds`) depends on the machine, and it is off unless asked for.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: The steps an analysis may take by default: a few seconds of work, and about thirty times
#: what the largest shipped policy (AliExpress) needs.
DEFAULT_STEPS = 5_000_000

#: An item (a rule, a constraint, a finding) may take at most 1/SHARE of the budget.
SHARE = 10

#: With a time limit, the clock is read once every this many steps (reading it is not free).
CLOCK_EVERY = 50_000

_UNLIMITED = float("inf")

_ACTIVE: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "policy_engine_analysis_budget", default=None)


class OverBudget(Exception):
    """An item spent its share (`whole` False), or the analysis its whole budget (True).

    Raised where the work happens, so a runaway computation stops at once; the caller of the
    item catches it and reports the item as not analysed. `define` names the derived value
    that alone takes more than a share, when that is why.
    """

    def __init__(self, whole: bool, reason: str, define: str | None = None) -> None:
        super().__init__(reason)
        self.whole = whole
        self.reason = reason
        self.define = define


class Budget:
    """The steps (and optionally the seconds) one analysis may spend.

    Args:
        steps: the budget in steps; 0 means no limit.
        seconds: a time limit, off by default. It makes findings depend on how fast the
            machine is, so it is only a backstop for people who need one.
    """

    def __init__(self, steps: int = DEFAULT_STEPS, *, seconds: float | None = None) -> None:
        if steps < 0:
            raise ValueError("the analysis budget cannot be negative")
        if seconds is not None and seconds <= 0:
            raise ValueError("the analysis time limit must be positive")
        self.steps = steps
        self.seconds = seconds
        #: Steps spent so far; every check compares it with `stop`.
        self.spent = 0
        #: The most steps one item took (evidence that the shares work).
        self.largest_item = 0
        #: Why the whole budget ran out ('steps' or 'time'), or None while it lasts.
        self.exhausted: str | None = None
        self._total: float = steps if steps else _UNLIMITED
        self._item_stop: float = _UNLIMITED
        self._deadline: float | None = None
        self._clock_at: float = _UNLIMITED
        if seconds is not None:
            self._deadline = time.monotonic() + seconds
            self._clock_at = CLOCK_EVERY
        self.stop: float = 0
        self._restop()

    @classmethod
    def from_options(cls, steps: int | None, seconds: float | None = None) -> Budget:
        """The budget command-line options ask for: `steps` None means the default."""
        return cls(DEFAULT_STEPS if steps is None else steps, seconds=seconds)

    @property
    def share(self) -> float:
        """The most steps one item may spend."""
        return max(1, self.steps // SHARE) if self.steps else _UNLIMITED

    def describe_limit(self) -> str:
        """The limit that ran out, in words, for diagnostics."""
        if self.exhausted == "time":
            return f"its time limit of {self.seconds:g} seconds"
        return f"its budget of {self.steps:,} steps"

    def describe_share(self) -> str:
        return f"its share of the budget ({int(self.share):,} steps)"

    def charge(self, steps: int) -> None:
        """Counts work; raises `OverBudget` when the item's share or the budget is spent."""
        self.spent += steps
        if self.spent > self.stop:
            self.overrun()

    def overrun(self) -> None:
        """Called when `spent` passed `stop`: reads the clock, or raises `OverBudget`."""
        if self.exhausted is None and self._deadline is not None \
                and self.spent > self._clock_at:
            if time.monotonic() > self._deadline:
                self.exhausted = "time"
            else:
                self._clock_at = self.spent + CLOCK_EVERY
        if self.exhausted is None and self.spent > self._total:
            self.exhausted = "steps"
        self._restop()
        if self.exhausted is not None:
            raise OverBudget(True, f"the analysis is over {self.describe_limit()}")
        if self.spent > self._item_stop:
            raise OverBudget(False, f"over {self.describe_share()}")

    def _restop(self) -> None:
        if self.exhausted is not None:
            self.stop = -1  # every later charge raises at once
        else:
            self.stop = min(self._total, self._item_stop, self._clock_at)

    @contextmanager
    def item(self) -> Iterator[None]:
        """One rule, constraint or finding: it may spend at most `share` steps."""
        saved = self._item_stop
        started = self.spent
        self._item_stop = min(saved, self.spent + self.share)
        self._restop()
        try:
            yield
        finally:
            self.largest_item = max(self.largest_item, self.spent - started)
            self._item_stop = saved
            self._restop()

    @contextmanager
    def active(self) -> Iterator[Budget]:
        """Makes this the budget that building formulas charges (see `charge_active`)."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)


def charge_active(steps: int) -> None:
    """Charges the active budget, if any: for work done in helpers that take no budget
    argument (building formulas), so every caller need not pass one along."""
    budget = _ACTIVE.get()
    if budget is not None:
        budget.charge(steps)
