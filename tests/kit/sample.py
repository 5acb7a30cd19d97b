"""A two-service sample built only from the kit, as the eventsourcing library's examples are:
a department *feed* that records facts and relays them as `housing.department.fact-reported`, and a
*tally* that counts, per household, the facts it received. A second effect of one message shows up
as a repeated reference in a tally, so exactly-once is directly observable.

Run as a process: `python -m tests.kit.sample feed|tally` (env: NATS_URL, HTTP_PORT, storage variables).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEventProtocol, event
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported
from services.kit.clock import Aggregate
from services.kit.codec import Incoming, Outgoing
from services.kit.http import create_app, observe, serve
from services.kit.runtime import Consumes, Runtime
from services.kit.settings import ServiceSettings
from services.kit.store import ServiceApplication
from services.kit.uow import UnitOfWork

FACT_REPORTED = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]
POISON_REFERENCE = "poison"


class FactReport(Aggregate):
    class Reported(Aggregate.Created):
        reference: str
        household_id: UUID
        monthly_income: Decimal

    @event(Reported)
    def __init__(self, reference: str, household_id: UUID, monthly_income: Decimal) -> None:
        self.reference = reference
        self.household_id = household_id
        self.monthly_income = monthly_income


class Tally(Aggregate):
    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"tally/{household_id}")

    class Counted(Aggregate.Event):
        reference: str

    @event("Opened")
    def __init__(self, household_id: UUID) -> None:
        self.household_id = household_id
        self.references: list[str] = []

    @event(Counted)
    def count(self, reference: str) -> None:
        self.references.append(reference)


class Feed(ServiceApplication):
    def report(
        self, reference: str, household_id: UUID, monthly_income: Decimal = Decimal("4200.00")
    ) -> UUID:
        report = FactReport(reference, household_id, monthly_income)
        self.save(report)
        return report.id

    def report_many(self, facts: Sequence[tuple[str, UUID]]) -> None:
        self.save(*(FactReport(reference, household, Decimal("4200.00")) for reference, household in facts))


class TallyApp(ServiceApplication):
    name = "Tally"

    def references(self, household_id: UUID) -> list[str]:
        try:
            tally: Tally = self.repository.get(Tally.create_id(household_id))
        except AggregateNotFoundError:
            return []
        return list(tally.references)


def translate(domain_event: DomainEventProtocol[UUID]) -> list[Outgoing]:
    if not isinstance(domain_event, FactReport.Reported):
        return []
    payload = DepartmentFactReported.model_validate(
        {
            "department": "civil_affairs",
            "reference": domain_event.reference,
            "described_on": date(2026, 11, 1),
            "household_id": domain_event.household_id,
            "person_hash": None,
            "fact": {"kind": "income", "monthly_income": domain_event.monthly_income},
        }
    )
    return [Outgoing(FACT_REPORTED, str(payload.household_id), payload)]


def count_fact(incoming: Incoming, uow: UnitOfWork) -> None:
    payload = incoming.payload
    assert isinstance(payload, DepartmentFactReported)
    if payload.reference == POISON_REFERENCE:
        raise RuntimeError("this handler cannot digest the poison reference")
    count_any_fact(incoming, uow)


def count_any_fact(incoming: Incoming, uow: UnitOfWork) -> None:
    """The handler without its weakness, as it is after a fix (dead-letter replay tests)."""
    payload = incoming.payload
    assert isinstance(payload, DepartmentFactReported) and payload.household_id is not None
    tally: Tally | None = uow.find(Tally.create_id(payload.household_id), Tally)
    if tally is None:
        tally = Tally(payload.household_id)
        uow.add(tally)
    tally.count(payload.reference)


class FactIn(BaseModel):
    reference: str
    household_id: UUID
    monthly_income: Decimal


def feed_api(feed: Feed) -> APIRouter:
    router = APIRouter()

    @router.post("/facts", status_code=201)
    def post_fact(fact: FactIn) -> dict[str, str]:
        return {"id": str(feed.report(fact.reference, fact.household_id, fact.monthly_income))}

    return router


def build(role: str, settings: ServiceSettings, env: dict[str, str] | None = None) -> tuple[FastAPI, Runtime]:
    if role == "feed":
        feed = Feed(settings, env)
        runtime = Runtime(feed, translate=translate)
        return create_app(runtime, [feed_api(feed)], title="sample feed"), runtime
    tally = TallyApp(settings, env)
    runtime = Runtime(tally, consumes=(Consumes("DEPARTMENT", {FACT_REPORTED.type: count_fact}),))
    return create_app(runtime, title="sample tally"), runtime


def main(role: str) -> None:
    settings = ServiceSettings(service_name=role)
    observe(settings)
    api, _ = build(role, settings)
    serve(api, settings)


if __name__ == "__main__":
    # Run the importable module's code, not this `__main__` copy: stored event topics name
    # `tests.kit.sample`, and its classes must be the ones the translator recognises.
    from tests.kit import sample

    sample.main(sys.argv[1])
