"""Inbox handler and relay translator: federation's side of the event backbone.

The handler only records that a check is wanted (quick, no network I/O, through the unit of work);
the outbound worker does the asking. Redelivery is harmless: the check's id derives from `check_id`.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.utils import get_topic

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.eligibility import (
    CrossRegionCheckRequested,
    CrossRegionCheckRequestedV2,
    CrossRegionRegisterUpdated,
)
from contracts.federation import CATEGORIES, CrossRegionResultRecorded
from federation.domain import (
    BatchExchange,
    CrossRegionCheck,
    HouseholdSubjects,
    InboundExchange,
    InboundRejection,
    RegisterEntry,
    Tenancy,
)
from services.kit.codec import Incoming, Outgoing
from services.kit.uow import UnitOfWork

CHECK_REQUESTED = EVENTS_BY_TYPE[("housing.eligibility.cross-region-check-requested", 2)]
REGISTER_UPDATED = EVENTS_BY_TYPE[("housing.eligibility.cross-region-register-updated", 1)]
RESULT_RECORDED = EVENTS_BY_TYPE[("housing.federation.cross-region-result-recorded", 1)]


def on_check_requested(incoming: Incoming, uow: UnitOfWork) -> None:
    """v2 carries the subjects to ask with; a v1 request (from before eligibility derived them) has
    none, and each of its cities is answered `unverified` ("no subject hash")."""
    request = incoming.payload
    assert isinstance(request, CrossRegionCheckRequested)
    if uow.find(CrossRegionCheck.create_id(request.check_id), CrossRegionCheck) is not None:
        return
    subjects = (
        [s.model_dump(mode="json") for s in request.subjects]
        if isinstance(request, CrossRegionCheckRequestedV2)
        else []
    )
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


def on_register_updated(incoming: Incoming, uow: UnitOfWork) -> None:
    update = incoming.payload
    assert isinstance(update, CrossRegionRegisterUpdated)
    entry = uow.find(RegisterEntry.create_id(update.household_id), RegisterEntry)
    if entry is None:
        entry = RegisterEntry(update.household_id)
        uow.add(entry)
    entry.update(
        [s.model_dump(mode="json") for s in update.subjects],
        {name: getattr(update, name) for name in CATEGORIES},
        update.as_of,
    )


HANDLERS = {CHECK_REQUESTED.type: on_check_requested, REGISTER_UPDATED.type: on_register_updated}
"""What federation consumes from the ELIGIBILITY stream (each type in every version)."""


class _Translator:
    """`translate`, with the stored topics it never publishes anything for: the relay passes over
    those undecoded (an answered exchange, the bulk of the log, would otherwise be decoded to be
    dropped)."""

    silent_topics = frozenset(
        get_topic(cls)
        for aggregate in (
            InboundExchange,
            InboundRejection,
            Tenancy,
            HouseholdSubjects,
            RegisterEntry,
            CrossRegionCheck,
            BatchExchange,
        )
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
