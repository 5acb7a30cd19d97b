"""A Training application on SQLite and PostgreSQL (the `persistence` fixture) with a clock the test sets,
its HTTP API through an in-process ASGI transport (no server, no NATS), and integration events fed the
way the inbox feeds them (a unit of work committed per message)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from pydantic import BaseModel

from contracts.department import DepartmentFactReported, EmploymentFact, SocialInsuranceFact
from contracts.eligibility import (
    AppealResolved,
    ExitDecided,
    HouseholdMembersChanged,
    HouseholdRegistered,
    Member,
)
from contracts.money import Yuan
from services.kit.clock import ManualClock
from services.kit.uow import UnitOfWork
from services.training.application import TrainingApp
from services.training.service import build
from services.training.settings import TrainingSettings
from tests.support.identity import OperatorAuth, as_operator

OPERATOR = as_operator("officer.chen", "supervisor", "training")
"""The headers of an operator's command (minted when a request reads them)."""
READER = OperatorAuth("auditor.sun", "auditor", "training")
"""The test client's default caller: reads; a command names its operator (`OPERATOR`)."""
DECIDED_ON = date(2027, 2, 10)

Clock = ManualClock  # the test's clock, moved by the test (tests import it from here)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2027, 2, 15, 9, 0, tzinfo=UTC))


FOSHAN = timezone(timedelta(hours=8))


def at(clock: Clock, day: date) -> date:
    """Move the test's clock to 10:00 in Foshan on `day` (time passes; no API moves it); returns `day`."""
    clock.now = datetime.combine(day, time(10, 0), tzinfo=FOSHAN).astimezone(UTC)
    return day


def settings(tmp_path: Path) -> TrainingSettings:
    return TrainingSettings(var_dir=tmp_path, training_courses_file=None)


@pytest.fixture
def training(tmp_path: Path, persistence: dict[str, str], clock: Clock) -> Iterator[TrainingApp]:
    app = TrainingApp(settings(tmp_path), persistence, clock=clock)
    yield app
    app.close()


@pytest.fixture
async def client(training: TrainingApp, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The service's real HTTP app around the test's application (lifespan not run: no NATS)."""
    api, _ = build(settings(tmp_path), app=training)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://training", auth=READER) as c:
        yield c


def feed(app: TrainingApp, payload: BaseModel) -> Any:
    """Hand one integration event to the application as its inbox does; returns the handler's answer."""
    uow = UnitOfWork(app)
    handler = {
        HouseholdRegistered: app.on_household_registered,
        HouseholdMembersChanged: app.on_members_changed,
        ExitDecided: app.on_exit_decided,
        AppealResolved: app.on_appeal_resolved,
        DepartmentFactReported: app.on_fact_reported,
    }[type(payload)]
    result = handler(uow, payload)  # type: ignore[operator]
    uow.commit(None)
    return result


def born(age: int, on: date = DECIDED_ON) -> date:
    """A birth date making someone exactly `age` on `on` (birthday that very day)."""
    return on.replace(year=on.year - age)


def household(estate: str = "Chancheng Garden", ages: tuple[int, ...] = (45, 17, 70)) -> HouseholdRegistered:
    return HouseholdRegistered(
        household_id=uuid4(),
        region="CN-FS",
        estate=estate,
        building="3",
        unit=f"{uuid4().int % 10_000:04d}",
        base_rent=Yuan("680.00"),
        tenancy_start=date(2019, 5, 1),
        members=[Member(member_id=uuid4(), birth_date=born(age), disabled=False) for age in ages],
    )


def exit_decided(household_id: UUID, on: date = DECIDED_ON) -> ExitDecided:
    return ExitDecided(
        household_id=household_id,
        review_id=uuid4(),
        route="exit",
        decided_on=on,
        low_income=True,
        wants_to_buy=False,
    )


def appeal(household_id: UUID, overturned: bool = True, outcome: str = "retain") -> AppealResolved:
    return AppealResolved(
        household_id=household_id,
        case_id=uuid4(),
        outcome=outcome,  # type: ignore[arg-type]
        overturned=overturned,
        resolved_on=date(2027, 2, 20),
    )


def employment_fact(
    household_id: UUID | None,
    employer: str = "Shunde Electrical Installations Co.",
    start: date = date(2027, 5, 15),
    described_on: date = date(2027, 5, 20),
    reference: str | None = None,
    person_hash: str | None = None,
) -> DepartmentFactReported:
    return DepartmentFactReported(
        department="human_resources",  # type: ignore[arg-type]
        reference=reference or f"RS-{uuid4().hex[:10]}",
        described_on=described_on,
        household_id=household_id,
        person_hash=person_hash,
        fact=EmploymentFact(employer=employer, start_date=start),
    )


def contribution_fact(household_id: UUID, employer: str, described_on: date) -> DepartmentFactReported:
    return DepartmentFactReported(
        department="social_insurance",  # type: ignore[arg-type]
        reference=f"SI-{uuid4().hex[:10]}",
        described_on=described_on,
        household_id=household_id,
        fact=SocialInsuranceFact(employer=employer, contribution_base=Yuan("4200.00")),
    )
