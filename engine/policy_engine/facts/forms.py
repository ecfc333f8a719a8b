"""Forms: what an amount and a date look like as text, and how many digits an amount may have."""

from __future__ import annotations

import re

#: Amounts are money: at most this many significant digits, and no further from the decimal
#: point, so exact arithmetic on them stays within the evaluator's 28-digit context.
AMOUNT_DIGITS = 28
#: An amount written as text: digits with an optional sign and decimal point (the schema's).
AMOUNT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
AMOUNT_RE = re.compile(AMOUNT_PATTERN)
#: A date written as text, YYYY-MM-DD (the schema's pattern; `DATE_RE` for `fullmatch`).
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
