"""The reference refund policy written by hand in plain Python: the baseline of every ratio.

`decide` is workload A (which decision), `permitted` workload B (is a refund permitted?). Both
read the typed facts `Policy.validate` returns (amounts as `Decimal`), the same dicts the
engine decides on, and are written the way a careful programmer would make them fast: each
fact read once, the tests ordered so that no condition is evaluated twice. `validate_and_decide`
is the baseline of the validating decider: raw facts in, every declared check, then `decide`.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from typing import Any

#: The decisions that mean "a refund is permitted" (workload B).
PERMITTED = frozenset({"cancel_full_refund", "dispute_full_refund", "partial_refund",
                       "full_refund"})


def decide(facts: Mapping[str, Any]) -> str:
    """Workload A: the decision of the reference policy, first match in rule order."""
    if facts["off_platform_offer"]:
        return "refuse_offer"
    if facts["dispute_state"] == "closed_seller_won":
        return "contact_support"
    status = facts["status"]
    if status == "awaiting_payment":
        return "cancel_no_charge"
    if status == "awaiting_shipment" and facts["paid"]:
        return "cancel_full_refund"
    if not facts["received"]:
        if facts["days_since_ship"] > 45:
            return "deny_protection_expired"
        if facts["days_without_tracking"] > 15:
            return "dispute_full_refund"
        if status == "sent":
            return "wait"
        return "deny"
    if facts["problem"] != "none":
        if facts["evidence_count"] >= 1:
            if facts["requested_refund"] < facts["amount"]:
                return "partial_refund"
            return "full_refund"
        return "request_evidence"
    return "return_at_buyer_cost"


def permitted(facts: Mapping[str, Any]) -> bool:
    """Workload B: whether the decision permits a refund, without naming the decision."""
    if facts["off_platform_offer"] or facts["dispute_state"] == "closed_seller_won":
        return False
    status = facts["status"]
    if status == "awaiting_payment":
        return False
    if status == "awaiting_shipment" and facts["paid"]:
        return True
    if not facts["received"]:
        return facts["days_since_ship"] <= 45 and facts["days_without_tracking"] > 15  # type: ignore[no-any-return]
    return facts["problem"] != "none" and facts["evidence_count"] >= 1  # type: ignore[no-any-return]


# ---------------------------------------------------------------- validate, then decide
class Invalid(ValueError):
    """Raw facts that the reference policy's declarations refuse."""


_STATUSES = frozenset({"awaiting_payment", "awaiting_shipment", "sent", "delivered",
                       "completed"})
_PROBLEMS = frozenset({"none", "defective", "damaged", "wrong_item", "wrong_quantity"})
_DISPUTES = frozenset({"none", "open", "closed_seller_won"})
_SHOWN = frozenset({"defective", "damaged", "wrong_item", "wrong_quantity"})
#: An amount may have at most 28 significant digits (the engine's exact decimals): rounding
#: it to that precision must be exact.
_DIGITS = decimal.Context(prec=28, traps=[decimal.Rounded, decimal.InvalidOperation]).plus
_AMOUNT_LOW, _AMOUNT_HIGH = decimal.Decimal(1), decimal.Decimal(500)
_REFUND_LOW, _REFUND_HIGH = decimal.Decimal(0), decimal.Decimal(500)


def validate_and_decide(raw: Any) -> str:
    """The reference policy's fact declarations, its `ensure` and its decision, by hand.

    The baseline of the validating decider (`policy.decider()`): raw facts as a JSON reader
    gives them (amounts as `Decimal`), every check the declarations imply (a dict of exactly
    the eleven facts, exact types so that a `bool` is not a whole number, enumerations,
    bounds, at most 28 digits in an amount), the `ensure`, then `decide`'s if/elif, each fact
    read once. It raises `Invalid` where the engine would report a problem (without wording
    it), so it does strictly less work than the engine on invalid facts.
    """
    if raw.__class__ is not dict or len(raw) != 11:
        raise Invalid("expected the eleven facts")
    status = raw["status"]
    if status.__class__ is not str or status not in _STATUSES:
        raise Invalid("status")
    paid = raw["paid"]
    received = raw["received"]
    off_platform = raw["off_platform_offer"]
    if paid.__class__ is not bool or received.__class__ is not bool \
            or off_platform.__class__ is not bool:
        raise Invalid("yes/no")
    since_ship = raw["days_since_ship"]
    if since_ship.__class__ is not int or not 0 <= since_ship <= 90:
        raise Invalid("days_since_ship")
    no_tracking = raw["days_without_tracking"]
    if no_tracking.__class__ is not int or not 0 <= no_tracking <= 60:
        raise Invalid("days_without_tracking")
    problem = raw["problem"]
    if problem.__class__ is not str or problem not in _PROBLEMS:
        raise Invalid("problem")
    evidence = raw["evidence_count"]
    if evidence.__class__ is not int or not 0 <= evidence <= 5:
        raise Invalid("evidence_count")
    dispute = raw["dispute_state"]
    if dispute.__class__ is not str or dispute not in _DISPUTES:
        raise Invalid("dispute_state")
    amount = raw["amount"]
    requested = raw["requested_refund"]
    if amount.__class__ is not decimal.Decimal or requested.__class__ is not decimal.Decimal:
        raise Invalid("amounts")
    try:
        _DIGITS(amount)
        _DIGITS(requested)
    except decimal.DecimalException:
        raise Invalid("too many digits") from None
    if not _AMOUNT_LOW <= amount <= _AMOUNT_HIGH or not _REFUND_LOW <= requested <= _REFUND_HIGH:
        raise Invalid("amount bounds")
    if not requested <= amount:
        raise Invalid("ensure requested_refund <= amount")
    if off_platform:
        return "refuse_offer"
    if dispute == "closed_seller_won":
        return "contact_support"
    if status == "awaiting_payment":
        return "cancel_no_charge"
    if status == "awaiting_shipment" and paid:
        return "cancel_full_refund"
    if not received:
        if since_ship > 45:
            return "deny_protection_expired"
        if no_tracking > 15:
            return "dispute_full_refund"
        if status == "sent":
            return "wait"
        return "deny"
    if problem in _SHOWN:
        if evidence >= 1:
            if requested < amount:
                return "partial_refund"
            return "full_refund"
        return "request_evidence"
    if problem != "none":
        return "request_evidence"
    return "return_at_buyer_cost"
