"""Integration events in: eligibility's households, exit decisions and appeals; penalties' hand-backs.

Each handler writes through the inbox's unit of work, committed with the inbox's tracking record in
one transaction, so a redelivered message has no second effect. A batch that loses a race for a unit
(another replica offered it first) fails its commit on the store's version check and is handled
again on fresh state.
"""

from __future__ import annotations

import logging

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.eligibility import AppealResolved, ExitDecided, HouseholdMembersChanged, HouseholdRegistered
from contracts.penalties import ExitCompleted
from services.kit.codec import Incoming
from services.kit.inbox import Handler
from services.kit.runtime import Consumes
from services.kit.uow import UnitOfWork
from services.resettlement.application import ResettlementApp

log = logging.getLogger(__name__)

REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.household-registered", 1)]
MEMBERS_CHANGED = EVENTS_BY_TYPE[("housing.eligibility.household-members-changed", 1)]
EXIT_DECIDED = EVENTS_BY_TYPE[("housing.eligibility.exit-decided", 1)]
APPEAL_RESOLVED = EVENTS_BY_TYPE[("housing.eligibility.appeal-resolved", 1)]
EXIT_COMPLETED = EVENTS_BY_TYPE[("housing.penalties.exit-completed", 1)]


def consumes(app: ResettlementApp) -> tuple[Consumes, ...]:
    def registered(incoming: Incoming, uow: UnitOfWork) -> None:
        assert isinstance(incoming.payload, HouseholdRegistered)
        app.on_household_registered(uow, incoming.payload)

    def members_changed(incoming: Incoming, uow: UnitOfWork) -> None:
        assert isinstance(incoming.payload, HouseholdMembersChanged)
        if not app.on_members_changed(uow, incoming.payload):
            log.warning("members changed for household %s, never registered here", incoming.envelope.subject)

    def exit_decided(incoming: Incoming, uow: UnitOfWork) -> None:
        assert isinstance(incoming.payload, ExitDecided)
        app.on_exit_decided(uow, incoming.payload)

    def appeal_resolved(incoming: Incoming, uow: UnitOfWork) -> None:
        assert isinstance(incoming.payload, AppealResolved)
        app.on_appeal_resolved(uow, incoming.payload)

    def exit_completed(incoming: Incoming, uow: UnitOfWork) -> None:
        assert isinstance(incoming.payload, ExitCompleted)
        app.on_exit_completed(uow, incoming.payload)

    eligibility: dict[str, Handler] = {
        REGISTERED.type: registered,
        MEMBERS_CHANGED.type: members_changed,
        EXIT_DECIDED.type: exit_decided,
        APPEAL_RESOLVED.type: appeal_resolved,
    }
    return (
        Consumes("ELIGIBILITY", eligibility),
        Consumes("PENALTIES", {EXIT_COMPLETED.type: exit_completed}),
    )
