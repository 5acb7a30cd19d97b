"""Personal fields masked for roles without the `personal:read` scope.

ID numbers never leave the services (eligibility answers only a masked form and a keyed hash). What the
gateway still masks for other roles: amounts that describe a household's means (incomes, assets, taxable
income, contribution bases, the value a rule observed, also where the rule's `comparison` quotes it),
members' birth dates and person hashes. The values of department facts (`facts.<kind>.<scope>[].value`)
are masked whole; who reported them and when stays visible, so an inspector still sees that a fact
exists.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

PERSONAL_KEYS = frozenset(
    {
        "birth_date",
        "person_hash",
        "id_number",
        "id_number_masked",
        "monthly_income",
        "income",
        "annual_taxable_income",
        "contribution_base",
        "financial_assets",
        "assets",
        "observed",
    }
)


def mask(value: Any) -> Any:
    """A copy of `value` with personal fields replaced by `***` (recursively)."""
    if isinstance(value, list):
        return [mask(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "comparison" and isinstance(item, str):
            # the rule's explanation quotes the observed value, and the members' figures it is made
            # of (a per-capita division, a conflict): keep the words and the value in force, hide
            # every amount
            observed = value.get("observed")
            if "threshold" in value:
                out[key] = _hide_amounts(item, value["threshold"])
            else:  # not a rule as eligibility records it: hide what it observed
                out[key] = _hide(item, str(observed)) if observed not in (None, "") else item
        elif key in PERSONAL_KEYS and item is not None:
            out[key] = MASK
        elif key == "facts" and isinstance(item, dict):
            out[key] = {kind: _mask_observations(scopes) for kind, scopes in item.items()}
        elif key == "fact" and isinstance(item, dict):
            out[key] = {k: (v if k in ("kind", "city", "property_ref") else MASK) for k, v in item.items()}
        else:
            out[key] = mask(item)
    return out


def _hide(text: str, number: str) -> str:
    """`text` with `number` masked where it stands alone (not inside 60.00 when it is 0.00)."""
    return re.sub(rf"(?<![\d.]){re.escape(number)}(?![\d.])", MASK, text)


_AMOUNT = re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])")
"""A decimal figure standing alone (dates, counts and ids have no decimal point)."""


def _hide_amounts(text: str, threshold: Any) -> str:
    """`text` with every decimal figure masked but the threshold (a published parameter)."""
    keep = None if threshold in (None, "") else str(threshold)
    return _AMOUNT.sub(lambda m: m.group(0) if m.group(0) == keep else MASK, text)


def _mask_observations(scopes: Any) -> Any:
    if not isinstance(scopes, dict):
        return MASK
    return {
        scope: [{**o, "value": MASK} if isinstance(o, dict) else MASK for o in observations]
        if isinstance(observations, list)
        else MASK
        for scope, observations in scopes.items()
    }
