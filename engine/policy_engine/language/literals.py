"""Literals: how the text of a quoted string or a number becomes its value, for both parsers,
and the engine's range, which a number or duration literal must stay within."""

from __future__ import annotations

from decimal import Decimal

#: The only escapes a quoted text may hold.
ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}

#: The engine's range for numbers: a whole number, and the part of an amount before its decimal
#: point, have at most this many digits. It is Python's own default limit for turning a whole
#: number into text and back, so every number the engine holds can be printed and read again;
#: a number literal has at most this many digits in all (docs/language.md, "The engine's
#: range").
MAX_DIGITS = 4300
#: The longest duration, in days either way: what `datetime.timedelta` holds.
MAX_DAYS = 999_999_999
#: The longest duration in months either way: 9,999 years, the span of the engine's dates
#: (0001-01-01 to 9999-12-31), so that any longer one would take every date off the calendar.
MAX_MONTHS = 9999 * 12
#: The units of a duration literal, as written, and what each counts: days (a week is 7) or
#: calendar months (a year is 12).
UNITS = {"day": "days", "days": "days", "week": "weeks", "weeks": "weeks",
         "month": "months", "months": "months", "year": "years", "years": "years"}


class BadEscape(ValueError):
    """A backslash in a quoted text that is none of the four escapes; `index` is its place in
    the text between the quotes."""

    def __init__(self, index: int, escaped: str) -> None:
        super().__init__(f"unknown escape '\\{escaped}'")
        self.index, self.escaped = index, escaped


def unescape(body: str) -> str:
    """The value of a quoted text, from the characters between its quotes: only \\" \\\\ \\n
    and \\t are escapes.

    Raises:
        BadEscape: for any other backslash.
    """
    if "\\" not in body:
        return body
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            escaped = body[index + 1 : index + 2]
            if escaped not in ESCAPES:
                raise BadEscape(index, escaped)
            out.append(ESCAPES[escaped])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def number_value(text: str) -> int | Decimal:
    """A number literal's value: a whole number, or an exact decimal when it has a point.

    The text must be within range (`number_problem` is None).
    """
    return Decimal(text) if "." in text else int(text)


def number_problem(text: str) -> str | None:
    """Why a number literal (digits, with an optional point) is out of range, or None."""
    digits = len(text) - text.count(".")
    if digits <= MAX_DIGITS:
        return None
    return (f"the number has {digits:,} digits, more than the {MAX_DIGITS:,} the engine "
            f"holds")


def duration_days(number: str, unit: str) -> int | None:
    """The days of a duration literal (a whole number of `days` or `weeks`), or None when
    they are out of range (more than `MAX_DAYS`); `number` is within range already."""
    days = int(number) * (7 if unit == "weeks" else 1)
    return days if days <= MAX_DAYS else None


def duration_months(number: str, unit: str) -> int | None:
    """The months of a duration literal (a whole number of `months` or `years`), or None when
    they are out of range (more than `MAX_MONTHS`); `number` is within range already."""
    months = int(number) * (12 if unit == "years" else 1)
    return months if months <= MAX_MONTHS else None


def months_text(number: str, unit: str) -> str:
    """How a month or year duration is written back (`1 month`, `12 months`, `1 year`), the
    same for both parsers and the formatter: singular for exactly 1, plural otherwise."""
    word = unit[:-1] if number == "1" else unit
    return f"{number} {word}"


#: Why a duration literal is out of range (E005), and the help line, for both parsers.
DURATION_PROBLEM = f"a duration is at most {MAX_DAYS:,} days"
DURATION_HELP = "durations this long are out of the engine's range; check the number"
MONTHS_PROBLEM = (f"a duration in months is at most {MAX_MONTHS:,} months "
                  f"({MAX_MONTHS // 12:,} years)")
NUMBER_HELP = (f"whole numbers and amounts have at most {MAX_DIGITS:,} digits; check the "
               "number")
