"""Households, decisions and violations as eligibility and monitoring publish them, for penalties' tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

from contracts.eligibility import AppealLodged, AppealResolved, ExitDecided, HouseholdRegistered, Member
from contracts.monitoring import OccupancyWarningRectified, ViolationConfirmed
from services.kit.clock import ManualClock
from services.kit.uow import UnitOfWork
from services.penalties.application import PenaltiesApp
from services.penalties.settings import PenaltiesSettings

ESTATE, BUILDING, UNIT = "Chancheng Garden", "3", "1204"
OFFICER = "officer.li"
SUPERVISOR, SECOND_SUPERVISOR = "supervisor.chen", "supervisor.wang"


def registration(household_id: UUID, base_rent: str = "1000.00") -> HouseholdRegistered:
    return HouseholdRegistered(
        household_id=household_id,
        region="CN-FS",
        estate=ESTATE,
        building=BUILDING,
        unit=UNIT,
        base_rent=Decimal(base_rent),
        tenancy_start=date(2020, 1, 1),
        members=[Member(member_id=uuid4(), birth_date=date(1980, 5, 1), disabled=False)],
    )


def exit_decision(
    household_id: UUID,
    route: str = "transition",
    *,
    decided_on: date = date(2027, 1, 15),
    low_income: bool = False,
    wants_to_buy: bool = False,
    review_id: UUID | None = None,
) -> ExitDecided:
    return ExitDecided(
        household_id=household_id,
        review_id=review_id or uuid4(),
        route=route,  # type: ignore[arg-type]
        decided_on=decided_on,
        low_income=low_income,
        wants_to_buy=wants_to_buy,
    )


def violation(household_id: UUID, kind: str = "sublet", on: date = date(2027, 3, 10)) -> ViolationConfirmed:
    return ViolationConfirmed(
        household_id=household_id,
        warning_id=uuid4(),
        violation=kind,  # type: ignore[arg-type]
        estate=ESTATE,
        building=BUILDING,
        unit=UNIT,
        inspector_id="inspector.wu",
        confirmed_on=on,
    )


def rectified(household_id: UUID, warning_id: UUID, on: date) -> OccupancyWarningRectified:
    return OccupancyWarningRectified(
        household_id=household_id, warning_id=warning_id, rectified_by=OFFICER, rectified_on=on, note=""
    )


def eligibility_appeal(household_id: UUID, case_id: UUID, on: date) -> AppealLodged:
    return AppealLodged(household_id=household_id, case_id=case_id, lodged_on=on)


def eligibility_appeal_resolved(
    household_id: UUID, case_id: UUID, on: date, outcome: str, overturned: bool
) -> AppealResolved:
    return AppealResolved(
        household_id=household_id,
        case_id=case_id,
        outcome=outcome,  # type: ignore[arg-type]
        overturned=overturned,
        resolved_on=on,
    )


# The day these tests' dates were written around (11:00 in Foshan): "today" for a sanction's state
# and a notice's delivery, whatever the machine's date.
TODAY = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def at(day: date) -> datetime:
    """11:00 in Foshan on `day`: the instant a test's clock is moved to, to make `day` today."""
    return datetime.combine(day, time(3, 0), tzinfo=UTC)


def clock_of(app: PenaltiesApp) -> ManualClock:
    assert isinstance(app.clock, ManualClock)
    return app.clock


def move_to(app: PenaltiesApp, day: date) -> None:
    """Make `day` the service's today: time moves by the clock, never through a command's date."""
    clock_of(app).now = at(day)


def make_app(
    tmp_path: Path, env: dict[str, str] | None = None, clock: ManualClock | None = None
) -> PenaltiesApp:
    settings = PenaltiesSettings(var_dir=tmp_path)
    store = env or {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "p.sqlite")}
    return PenaltiesApp(settings, store, clock=clock or ManualClock(TODAY))


def feed(app: PenaltiesApp, handler_name: str, payload: object) -> None:
    """Apply an incoming event the way the inbox does: one unit of work, committed."""

    def command(uow: UnitOfWork) -> None:
        getattr(app, handler_name)(uow, payload)

    app.run(command)


def registered_household(app: PenaltiesApp, base_rent: str = "1000.00") -> UUID:
    household_id = uuid4()
    feed(app, "on_household_registered", registration(household_id, base_rent))
    return household_id
