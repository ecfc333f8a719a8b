"""Generated policies that are large or hard for the analysis, for the tests of its budget.

`simple_rules(n)` is the policy of the adversarial trial: `n` one-line rules over the facts of
`benchmarks.generate` (24,951 of them make about 2 MB, just under the engine's limit on a
policy's size). `chained_defines(k)` and `pairs(n)` are small policies whose decision diagrams
or formulas grow exponentially: k derived values each reading the one before three times, and
an `or` of n `and`s over 2n yes/no facts declared in the order that diagrams handle worst.
"""

from __future__ import annotations

from benchmarks.generate import CHANNELS, DECISIONS, MAX_AMOUNT, MAX_DAYS, REGIONS, categories

#: The size of the trial's policy: about 2 MB of one-line rules.
TRIAL_RULES = 24_951


def simple_rules(n_rules: int) -> str:
    """A first-match policy of `n_rules` one-line rules and an `otherwise`; deterministic."""
    n_categories = categories(n_rules)
    lines = [
        f"policy simple_{n_rules}",
        f"fact category: one of {', '.join(f'c{i}' for i in range(n_categories))}",
        f"fact region: one of {', '.join(f'r{i}' for i in range(REGIONS))}",
        f"fact channel: one of {', '.join(CHANNELS)}",
        f"fact amount: amount from 0 to {MAX_AMOUNT}",
        f"fact days: whole number from 0 to {MAX_DAYS}",
        *(f"decision {name}" for name in DECISIONS),
    ]
    for index in range(n_rules):
        shape = index % 4
        test = (f"amount > {index * 37 % MAX_AMOUNT}" if shape == 0
                else f"days <= {index * 11 % MAX_DAYS}" if shape == 1
                else f"channel is {CHANNELS[index % len(CHANNELS)]}" if shape == 2
                else f"region is r{index // n_categories % REGIONS}")
        lines.append(f"rule r{index} when category is c{index % n_categories} and {test} "
                     f'then {DECISIONS[index % len(DECISIONS)]} because "g"')
    lines.append('otherwise review because "no rule applies"')
    return "\n".join(lines) + "\n"


def chained_defines(levels: int) -> str:
    """`define eK = if eK-1 > K then eK-1 else eK-1 + 1`, `levels` times, and one rule."""
    lines = ["policy chained", "fact e0: whole number"]
    lines += [f"define e{k} = if e{k - 1} > {k} then e{k - 1} else e{k - 1} + 1"
              for k in range(1, levels + 1)]
    lines += ["decision ok", f'rule r when e{levels} > 10 then ok because "high"']
    return "\n".join(lines) + "\n"


def pairs(n: int, *, rules: int = 1, fixed_order: bool = False) -> str:
    """A rule `(x0 and y0) or ... or (xN and yN)` over yes/no facts declared x0..xN, y0..yN.

    Args:
        rules: how many such rules (each on its own facts), before one simple rule and an
            `otherwise`.
        fixed_order: declare each x beside its y instead, the order in which the diagram of
            the condition stays small (the fix the documentation suggests).
    """
    lines = [f"policy pairs_{n}"]
    names = [(f"x{r}_{i}", f"y{r}_{i}") for r in range(rules) for i in range(n)]
    if fixed_order:
        lines += [f"fact {name}: yes/no" for pair in names for name in pair]
    else:
        lines += [f"fact {x}: yes/no" for x, _ in names] + [f"fact {y}: yes/no" for _, y in names]
    lines += ["fact size: whole number from 0 to 100", "decision big", "decision small"]
    for r in range(rules):
        condition = " or ".join(f"(x{r}_{i} and y{r}_{i})" for i in range(n))
        lines.append(f'rule pairs{r} when {condition} then big because "a pair holds"')
    lines += ['rule large when size > 50 then big because "large"',
              'rule large_again when size > 60 then big because "shadowed by large"',
              'otherwise small because "nothing holds"']
    return "\n".join(lines) + "\n"
