"""Builders shared by the resettlement tests: settings, exit decisions, registrations, small pools."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

from contracts.eligibility import ExitDecided, HouseholdRegistered, Member
from services.kit.clock import ManualClock
from services.resettlement.application import UnitSpec, read_pools_file
from services.resettlement.settings import FOSHAN_POOLS, ResettlementSettings

DECIDED = date(2026, 11, 2)

Clock = ManualClock  # the test's clock, moved by the test (tests import it from here)


def clock() -> Clock:
    return Clock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))  # 10:00 in Foshan


def settings(tmp_path: Path, **values: object) -> ResettlementSettings:
    return ResettlementSettings(var_dir=tmp_path, resettlement_pools_file=None, **values)  # type: ignore[arg-type]


def decision(
    household_id: UUID | None = None,
    *,
    low_income: bool = False,
    wants_to_buy: bool = False,
    decided_on: date = DECIDED,
    route: str = "exit",
) -> ExitDecided:
    return ExitDecided(
        household_id=household_id or uuid4(),
        review_id=uuid4(),
        route=route,  # type: ignore[arg-type]
        decided_on=decided_on,
        low_income=low_income,
        wants_to_buy=wants_to_buy,
    )


def registration(
    household_id: UUID, *births: date, disabled: bool = False, estate: str = "Chancheng Garden"
) -> HouseholdRegistered:
    members = [
        Member(member_id=uuid4(), birth_date=birth, disabled=disabled and i == 0)
        for i, birth in enumerate(births)
    ]
    return HouseholdRegistered(
        household_id=household_id,
        region="CN-FS",
        estate=estate,
        building="3",
        unit="1204",
        base_rent=Decimal("680.00"),
        tenancy_start=date(2019, 5, 1),
        members=members,
    )


def small_pool(pool: str, count: int) -> list[UnitSpec]:
    return [UnitSpec(pool, "Test Court", "1", f"{n:04d}", Decimal("40.00")) for n in range(1, count + 1)]


def foshan(pool: str) -> list[UnitSpec]:
    return [spec for spec in read_pools_file(FOSHAN_POOLS) if spec.pool == pool]
