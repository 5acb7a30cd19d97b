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
    RentSubsidyRegistered,
)
from contracts.penalties import ExitCompleted
from services.kit.inbox import Handler
from services.kit.runtime import Consumes, on
from services.kit.uow import UnitOfWork
from services.resettlement.application import ResettlementApp

log = logging.getLogger(__name__)

REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.household-registered", 1)]
RENT_SUBSIDY_REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.rent-subsidy-registered", 1)]
RENT_SUBSIDY_ESTATE = "(rent subsidy)"
"""Where a household on a rent subsidy is kept here: it has no estate (the gateway shows what carries
this name to city-wide operators only, as it does eligibility's households without an estate)."""
MEMBERS_CHANGED = EVENTS_BY_TYPE[("housing.eligibility.household-members-changed", 1)]
EXIT_DECIDED = EVENTS_BY_TYPE[("housing.eligibility.exit-decided", 1)]
APPEAL_RESOLVED = EVENTS_BY_TYPE[("housing.eligibility.appeal-resolved", 1)]
EXIT_COMPLETED = EVENTS_BY_TYPE[("housing.penalties.exit-completed", 1)]


def on_rent_subsidy(app: ResettlementApp) -> Handler:
    """A household on a rent subsidy is followed like one in a unit (its members, its exit decision)
    under `RENT_SUBSIDY_ESTATE`; the registration handler reads only the household, estate and members."""

    def registered(uow: UnitOfWork, payload: RentSubsidyRegistered) -> None:
        as_tenancy = HouseholdRegistered.model_construct(
            household_id=payload.household_id,
            region=payload.region,
            estate=RENT_SUBSIDY_ESTATE,
            members=payload.members,
        )
        app.on_household_registered(uow, as_tenancy)

    return on(RentSubsidyRegistered, registered)


def consumes(app: ResettlementApp) -> tuple[Consumes, ...]:
    eligibility: dict[str, Handler] = {
        REGISTERED.type: on(HouseholdRegistered, app.on_household_registered),
        RENT_SUBSIDY_REGISTERED.type: on_rent_subsidy(app),
        MEMBERS_CHANGED.type: on(HouseholdMembersChanged, app.on_members_changed, unknown="ignore"),
        EXIT_DECIDED.type: on(ExitDecided, app.on_exit_decided),
        APPEAL_RESOLVED.type: on(AppealResolved, app.on_appeal_resolved),
    }
    exit_completed = on(ExitCompleted, app.on_exit_completed)
    return (
        Consumes("ELIGIBILITY", eligibility),
        Consumes("PENALTIES", {EXIT_COMPLETED.type: exit_completed}),
    )
