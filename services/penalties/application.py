"""Penalties' Application: one class composed of its capabilities, each a module of its own.

| module | capability |
| --- | --- |
| `core` | state, policy, running a command on a unit of work, the day a step happened, the views' fold |
| `notices` | plain-language notices and their delivery record |
| `ledger` | reads of one household or object: the rent ledger, a plan, a sanction, an appeal |
| `lists` | lists, pages and dashboard counts from the views |
| `transitions` | eligibility's decisions, plans, the voluntary exit and subsidy, the end of a tenancy |
| `sanctions` | surcharges, operators' sanctions, the credit list (four eyes), lift, withdraw |
| `enforcement` | a repossession's notice, proposal and execution (four eyes); the overdue check |
| `appeals` | appeals against sanctions, and eligibility's appeals holding a plan |
"""

from __future__ import annotations

from services.penalties.appeals import Appeals
from services.penalties.core import (
    MAX_RECORDED_FAILURES,
    MAX_STATEMENT_MONTHS,
    NotFound,
    OutsideWindow,
    SanctionView,
    Sees,
)
from services.penalties.domain import BasisError, RuleError, last_day
from services.penalties.enforcement import Enforcement
from services.penalties.lists import Lists


class PenaltiesApp(Appeals, Enforcement, Lists):
    """Commands (inbox and HTTP, all on a unit of work, retried on a version conflict) and queries."""


__all__ = [
    "MAX_RECORDED_FAILURES",
    "MAX_STATEMENT_MONTHS",
    "BasisError",
    "NotFound",
    "OutsideWindow",
    "PenaltiesApp",
    "RuleError",
    "SanctionView",
    "Sees",
    "last_day",
]
