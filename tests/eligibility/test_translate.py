"""What eligibility tells the platform: every domain event of a whole review, translated into contract
events that validate, carry the household as subject, and never an ID number or a person hash.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported
from services.eligibility.application import Actor, EligibilityApp, MemberInput
from services.eligibility.settings import EligibilitySettings
from services.eligibility.translate import make_translator
from services.kit.uow import UnitOfWork
from tests.eligibility.conftest import Clock
from tests.eligibility.test_api import TODAY

HOUSEHOLD = "6a2f41a3-c54b-4d8a-9a0f-1c2b3d4e5f60"
CASE = "7b3f52b4-d65c-4e9b-8b1f-2d3c4e5f6a71"
REVIEW = "9b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def test_a_whole_review_translates_into_valid_contract_events(
    eligibility: EligibilityApp, clock: Clock, tmp_path: Path
) -> None:
    id_number = "440604198507151234"
    household = eligibility.register_household(
        region="CN-FS",
        estate="Chancheng Garden",
        building="3",
        unit="1204",
        base_rent=Decimal("680.00"),
        tenancy_start=date(2019, 5, 1),
        members=[MemberInput(id_number, date(1985, 7, 15), False)],
    )
    person_hash = household.members[0]["person_hash"]
    uow = UnitOfWork(eligibility)
    report = DepartmentFactReported.model_validate(
        {
            "department": "civil_affairs",
            "reference": "MZ-1",
            "described_on": TODAY,
            "person_hash": person_hash,
            "fact": {"kind": "income", "monthly_income": "4500.00"},
        }
    )
    assert eligibility.intake_fact(uow, report) == "recorded"
    uow.commit(None)
    case_id = eligibility.household(household.id).open_case
    assert case_id is not None
    reviewer, supervisor = Actor("reviewer.li", "reviewer"), Actor("supervisor.chen", "supervisor")
    eligibility.request_assessment(case_id, reviewer, "assessor.zhao", date(2026, 12, 11), "complex")
    eligibility.receive_assessment(case_id, Actor("assessor.zhao", "assessor"), "staged rise", "transition")
    eligibility.record_finding(
        case_id,
        reviewer,
        findings="rose in stages",
        proposed_outcome="transition",
        reason_code="STAGED",
        low_income=True,
        wants_to_buy=False,
    )
    eligibility.approve(case_id, supervisor, "agreed")
    clock.now += timedelta(days=5)
    eligibility.lodge_appeal(case_id, Actor("household.a1", "household"), "income fell")
    eligibility.record_finding(
        case_id,
        Actor("reviewer.he", "reviewer"),
        findings="new payslips",
        proposed_outcome="retain",
        reason_code="APPEAL",
        low_income=True,
        wants_to_buy=False,
    )
    eligibility.approve(case_id, supervisor, "appeal upheld")

    translate = make_translator(EligibilitySettings(var_dir=tmp_path), EVENTS_BY_TYPE)
    published: list[tuple[str, dict[str, Any]]] = []
    for notification in eligibility.notification_log.select(start=1, limit=1000):
        for out in translate(eligibility.mapper.to_domain_event(notification)):
            wire = out.payload.model_dump_json()
            assert out.spec.payload.model_validate_json(wire) == out.payload
            assert out.subject_id == str(household.id)
            assert id_number not in wire and person_hash not in wire
            published.append((out.spec.name, json.loads(wire)))
    names = [name for name, _ in published]
    assert names == [
        "household-registered",
        "cross-region-register-updated",  # no linkage keys here: no subjects, the categories alone
        "fact-recorded",
        "review-decided",
        "warning-raised",
        "review-opened",
        "cross-region-check-requested",
        "assessment-requested",
        "assessment-received",
        "finding-recorded",
        "review-confirmed",
        "exit-decided",
        "appeal-lodged",
        "finding-recorded",
        "review-confirmed",
        "appeal-resolved",
    ]
    resolved = dict(published)["appeal-resolved"]
    assert resolved["outcome"] == "retain" and resolved["overturned"] is True
    assert dict(published)["exit-decided"]["route"] == "transition"

    # A catalogue without an event type publishes nothing of that type.
    core = make_translator(
        EligibilitySettings(var_dir=tmp_path),
        {key: spec for key, spec in EVENTS_BY_TYPE.items() if spec.name != "appeal-resolved"},
    )
    catalogued = [
        out.spec.name
        for n in eligibility.notification_log.select(start=1, limit=1000)
        for out in core(eligibility.mapper.to_domain_event(n))
    ]
    assert "appeal-resolved" not in catalogued and "appeal-lodged" in catalogued
