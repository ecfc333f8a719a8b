"""Generated policies of any size, for measuring load time and per-decision time as rules grow.

`generate_policy(n)` writes a deterministic first-match policy of `n` rules dispatched on
enumeration facts; `random_facts(n, count, seed)` draws raw fact sets for it, about half of
them aimed at some rule's category and region so that rules, not only `otherwise`, decide.

    >>> from policy_engine import Policy
    >>> policy = Policy.from_text(generate_policy(100), "generated.policy")
    >>> [policy.evaluate(raw).decision for raw in random_facts(100, 3, seed=1)]
"""

from __future__ import annotations

import random
from typing import Any

REGIONS = 10
CHANNELS = ("web", "app", "phone", "store")
DECISIONS = ("approve", "deny", "review", "escalate")
MAX_AMOUNT = 1000
MAX_DAYS = 365


def categories(n_rules: int) -> int:
    """How many category values a policy of `n_rules` rules declares (about 10 rules each)."""
    return max(1, (n_rules + REGIONS - 1) // REGIONS)


def _rule(index: int, n_categories: int) -> str:
    """The text of rule `index`: a category and region, then a test that varies with the index."""
    category = index % n_categories
    region = (index // n_categories) % REGIONS
    decision = DECISIONS[index % len(DECISIONS)]
    threshold = (index * 37) % MAX_AMOUNT
    days = (index * 11) % MAX_DAYS
    channel = CHANNELS[index % len(CHANNELS)]
    shape = index % 4
    if shape == 0:
        test = f"amount > {threshold}"
    elif shape == 1:
        test = f"days <= {days}"
    elif shape == 2:
        test = f"channel is {channel} and amount >= {threshold}"
    else:
        test = f"days > {days} or channel is {channel}"
        test = f"({test})"
    return (f'rule r{index} "Generated rule {index}"\n'
            f"  when category is c{category} and region is r{region} and {test}\n"
            f"  then {decision}\n"
            f'  because "generated rule {index} applies"\n')


def generate_policy(n_rules: int) -> str:
    """A valid, formatted policy with `n_rules` generated rules; the same `n` gives the same text.

    Args:
        n_rules: the number of rules (at least 1).

    Returns:
        The policy text: five facts (three enumerations, an amount, a whole number), four
        decisions, the rules in first-match order, and an `otherwise`.
    """
    if n_rules < 1:
        raise ValueError("a generated policy needs at least one rule")
    n_categories = categories(n_rules)
    category_values = ", ".join(f"c{i}" for i in range(n_categories))
    region_values = ", ".join(f"r{i}" for i in range(REGIONS))
    parts = [
        f'policy generated_{n_rules} "A generated policy of {n_rules} rules"\n',
        'version "1"\n',
        "\n",
        "resolve first match\n",
        "\n",
        f'fact category "Product category": one of {category_values}\n',
        f'fact region "Sales region": one of {region_values}\n',
        f'fact channel "Where the order was placed": one of {", ".join(CHANNELS)}\n',
        f'fact amount "Order amount": amount from 0 to {MAX_AMOUNT}\n',
        f'fact days "Days since the order": whole number from 0 to {MAX_DAYS}\n',
        "\n",
    ]
    parts.extend(f"decision {name}\n" for name in DECISIONS)
    parts.append("\n")
    parts.append("\n".join(_rule(index, n_categories) for index in range(n_rules)))
    parts.append("\n")
    parts.append('otherwise review because "no generated rule applies"\n')
    return "".join(parts)


def random_facts(n_rules: int, count: int, seed: int) -> list[dict[str, Any]]:
    """Raw fact sets (JSON-like: amounts as decimal text) for `generate_policy(n_rules)`.

    Args:
        n_rules: the size of the generated policy the facts are for.
        count: how many fact sets to draw.
        seed: the random seed; the same arguments give the same fact sets.

    Returns:
        A list of dicts ready for `Policy.evaluate`.
    """
    rng = random.Random(seed)
    n_categories = categories(n_rules)
    cases: list[dict[str, Any]] = []
    for _ in range(count):
        if rng.random() < 0.5:
            # aim at one rule, so that its test (not only its dispatch) is exercised
            index = rng.randrange(n_rules)
            category = index % n_categories
            region = (index // n_categories) % REGIONS
        else:
            category = rng.randrange(n_categories)
            region = rng.randrange(REGIONS)
        cents = rng.randrange(MAX_AMOUNT * 100 + 1)
        cases.append({
            "category": f"c{category}",
            "region": f"r{region}",
            "channel": rng.choice(CHANNELS),
            "amount": f"{cents // 100}.{cents % 100:02d}",
            "days": rng.randrange(MAX_DAYS + 1),
        })
    return cases


if __name__ == "__main__":
    import sys

    sys.stdout.write(generate_policy(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
