"""Federation's answers to a cross-region check, through the inbox handler and a unit of work: a peer that
could not verify keeps the household in manual review; an answer to an older check changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported
from contracts.envelope import Envelope
from contracts.federation import CrossRegionResultRecorded
from services.eligibility.application import EligibilityApp, MemberInput
from services.eligibility.handlers import cross_region_handler
from services.kit.codec import Incoming
from services.kit.uow import UnitOfWork
from tests.eligibility.test_api import TODAY


def answer(household: object, check: object, city: str, result: str) -> Incoming:
    spec = EVENTS_BY_TYPE[("housing.federation.cross-region-result-recorded", 1)]
    payload = CrossRegionResultRecorded.model_validate(
        {
            "check_id": check,
            "household_id": household,
            "city": city,
            "result": result,
            "holds_subsidised_housing": None,
            "receives_housing_subsidy": None,
            "owns_property_over_threshold": None,
            "reason": "peer did not answer in time" if result == "unverified" else None,
            "query_ids": [],
            "concluded_at": datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        }
    )
    envelope = Envelope(
        specversion="1.0",
        id=str(uuid4()),
        source="/housing/federation",
        type=spec.type,
        subject=str(household),
        time=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        dataschema=spec.dataschema,
        data=payload.model_dump(mode="json"),
    )
    return Incoming(spec, envelope, payload, "FEDERATION", 1)


def fact(household: object, reference: str, kind: dict[str, str]) -> DepartmentFactReported:
    return DepartmentFactReported.model_validate(
        {
            "department": "civil_affairs" if kind["kind"] == "income" else "finance",
            "reference": reference,
            "described_on": TODAY,
            "household_id": household,
            "fact": kind,
        }
    )


def test_an_unverified_peer_keeps_the_household_in_manual_review(eligibility: EligibilityApp) -> None:
    household = eligibility.register_household(
        region="CN-FS",
        estate="Nanhai Court",
        building="1",
        unit="101",
        base_rent=Decimal("600.00"),
        tenancy_start=date(2020, 1, 1),
        members=[MemberInput("440604198507151234", date(1985, 7, 15), False)],
    ).id
    eligibility.ingest([fact(household, "i-1", {"kind": "income", "monthly_income": "4200.00"})])
    opened = eligibility.household(household)
    assert opened.open_case is not None and opened.check_id is not None
    # income corrected below the threshold; assets known: it would qualify on local data alone
    eligibility.ingest(
        [
            fact(household, "i-2", {"kind": "income", "monthly_income": "3000.00"}),
            fact(household, "f-1", {"kind": "financial_assets", "amount": "10.00"}),
        ]
    )
    assert eligibility.household(household).outcome == "qualifies"

    handle = cross_region_handler(eligibility)
    uow = UnitOfWork(eligibility)
    handle(answer(household, opened.check_id, "CN-GZ", "no_match"), uow)
    handle(answer(household, opened.check_id, "CN-ZQ", "unverified"), uow)
    handle(answer(household, uuid4(), "CN-DG", "match"), uow)  # an older check: ignored
    uow.commit(None)
    current = eligibility.household(household)
    assert current.cross_region == {"CN-GZ": "no_match", "CN-ZQ": "unverified"}
    assert current.outcome == "needs_manual"
    rule = current.decision.data["rules"][-1] if current.decision else None
    assert rule is not None and rule["rule"] == "cross_region" and rule["status"] == "unverified"

    uow = UnitOfWork(eligibility)
    handle(answer(household, opened.check_id, "CN-DG", "match"), uow)
    uow.commit(None)
    assert eligibility.household(household).outcome == "exit_triggered"
