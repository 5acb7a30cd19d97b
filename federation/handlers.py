"""Inbox handler and relay translator: federation's side of the event backbone.

The handler only records that a check is wanted (quick, no network I/O, through the unit of work);
the outbound worker does the asking. Redelivery is harmless: the check's id derives from `check_id`.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.utils import get_topic

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.eligibility import CrossRegionCheckRequested, HouseholdRegistered
from contracts.federation import CrossRegionResultRecorded
from federation.domain import CrossRegionCheck, HouseholdSubjects, InboundExchange, InboundRejection, Tenancy
from services.kit.codec import Incoming, Outgoing
from services.kit.uow import UnitOfWork

CHECK_REQUESTED = EVENTS_BY_TYPE[("housing.eligibility.cross-region-check-requested", 1)]
HOUSEHOLD_REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.household-registered", 1)]
RESULT_RECORDED = EVENTS_BY_TYPE[("housing.federation.cross-region-result-recorded", 1)]


def on_check_requested(incoming: Incoming, uow: UnitOfWork) -> None:
    request = incoming.payload
    assert isinstance(request, CrossRegionCheckRequested)
    if uow.find(CrossRegionCheck.create_id(request.check_id), CrossRegionCheck) is not None:
        return
    register = uow.find(HouseholdSubjects.create_id(request.household_id), HouseholdSubjects)
    subjects = [s for s in (register.subjects if register else []) if s["city"] in request.cities]
    uow.add(
        CrossRegionCheck(
            request.check_id,
            request.household_id,
            list(request.cities),
            request.purpose,
            request.legal_basis,
            subjects,
        )
    )


def on_household_registered(incoming: Incoming, uow: UnitOfWork) -> None:
    registered = incoming.payload
    assert isinstance(registered, HouseholdRegistered)
    if uow.find(Tenancy.create_id(registered.household_id), Tenancy) is None:
        uow.add(Tenancy(registered.household_id, registered.region))


HANDLERS = {CHECK_REQUESTED.type: on_check_requested, HOUSEHOLD_REGISTERED.type: on_household_registered}
"""What federation consumes from the ELIGIBILITY stream."""


class _Translator:
    """`translate`, with the stored topics it never publishes anything for: the relay passes over
    those undecoded (an answered exchange, the bulk of the log, would otherwise be decoded to be
    dropped)."""

    silent_topics = frozenset(
        get_topic(cls)
        for aggregate in (InboundExchange, InboundRejection, Tenancy, HouseholdSubjects, CrossRegionCheck)
        for cls in vars(aggregate).values()
        if isinstance(cls, type)
        and issubclass(cls, Aggregate.Event)
        and cls is not CrossRegionCheck.PeerConcluded
    )

    def __call__(self, domain_event: DomainEventProtocol[UUID]) -> list[Outgoing]:
        return _translate(domain_event)


def _translate(domain_event: DomainEventProtocol[UUID]) -> list[Outgoing]:
    if not isinstance(domain_event, CrossRegionCheck.PeerConcluded):
        return []
    payload = CrossRegionResultRecorded(
        check_id=domain_event.check_id,
        household_id=domain_event.household_id,
        city=domain_event.city,
        result=domain_event.result,  # type: ignore[arg-type]
        reason=domain_event.reason,
        query_ids=[UUID(q) for q in domain_event.query_ids],
        concluded_at=domain_event.concluded_at,
        **domain_event.categories,
    )
    return [Outgoing(RESULT_RECORDED, str(domain_event.household_id), payload)]


translate = _Translator()
"""The relay's translator: one `cross-region-result-recorded` per concluded city."""
