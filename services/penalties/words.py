"""The words of penalties: violations and sanction kinds, how a household is addressed, how a notice
tells it to appeal. No I/O."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

VIOLATIONS = ("sublet", "lend", "vacant", "concealed_income", "concealed_assets", "overstaying")
SANCTION_KINDS = ("rent_surcharge", "credit_list", "repossession")
VIOLATION_WORDS = {
    "sublet": "subletting the flat",
    "lend": "lending the flat to others",
    "vacant": "leaving the flat empty",
    "concealed_income": "concealing income",
    "concealed_assets": "concealing property or financial assets",
    "overstaying": "staying in the flat after the exit date",
}


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


def unit_words(estate: str, building: str, unit: str) -> str:
    """How notices address a household: by its flat, never by a name."""
    return f"the household of unit {unit}, building {building}, {estate}"


def appeal_words(until: date, what: str) -> str:
    return (
        f"How to appeal: you may appeal in writing until {until.isoformat()} at your estate's housing "
        f"service desk or through the housing bureau's online service, quoting this notice. While your "
        f"appeal is open, {what}."
    )


ELIGIBILITY_APPEAL = (
    "How to appeal: the exit decision itself is appealed to the housing bureau's review office within "
    "the period stated in the decision; while that appeal is open, the rent increases are suspended."
)
