"""Integration events in: eligibility's households, exit decisions and appeals; penalties' hand-backs.

Each handler writes through the inbox's unit of work, committed with the inbox's tracking record in
one transaction, so a redelivered message has no second effect. A batch that loses a race for a unit
(another replica offered it first) fails its commit on the store's version check and is handled
again on fresh state.
"""

from __future__ import annotations

import logging

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.eligibility import (
    AppealResolved,
    ExitDecided,
    HouseholdMembersChanged,
    HouseholdRegistered,
)
from contracts.penalties import ExitCompleted
from services.kit.households import follow_rent_subsidy
from services.kit.inbox import Handler
from services.kit.runtime import Consumes, on
from services.resettlement.application import ResettlementApp

log = logging.getLogger(__name__)

REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.household-registered", 1)]
RENT_SUBSIDY_REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.rent-subsidy-registered", 1)]
MEMBERS_CHANGED = EVENTS_BY_TYPE[("housing.eligibility.household-members-changed", 1)]
EXIT_DECIDED = EVENTS_BY_TYPE[("housing.eligibility.exit-decided", 1)]
APPEAL_RESOLVED = EVENTS_BY_TYPE[("housing.eligibility.appeal-resolved", 1)]
EXIT_COMPLETED = EVENTS_BY_TYPE[("housing.penalties.exit-completed", 1)]


def consumes(app: ResettlementApp) -> tuple[Consumes, ...]:
    eligibility: dict[str, Handler] = {
        REGISTERED.type: on(HouseholdRegistered, app.on_household_registered),
        RENT_SUBSIDY_REGISTERED.type: follow_rent_subsidy(app.on_household_registered),
        MEMBERS_CHANGED.type: on(HouseholdMembersChanged, app.on_members_changed, unknown="ignore"),
        EXIT_DECIDED.type: on(ExitDecided, app.on_exit_decided),
        APPEAL_RESOLVED.type: on(AppealResolved, app.on_appeal_resolved),
    }
    exit_completed = on(ExitCompleted, app.on_exit_completed)
    return (
        Consumes("ELIGIBILITY", eligibility),
        Consumes("PENALTIES", {EXIT_COMPLETED.type: exit_completed}),
    )
