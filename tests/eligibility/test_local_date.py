"""Business dates are the city's: at 01:00 in Foshan (17:00 UTC the day before) a fact the department
dates today is today's, not tomorrow's. Eligibility once dated by UTC while penalties, resettlement and
monitoring dated by Foshan, so every evening UTC its decisions set aside the day's facts as "future"
(the city demo found it: ten households left undecided)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from contracts.department import DepartmentFactReported
from services.eligibility.application import EligibilityApp, MemberInput
from services.kit.settings import ServiceSettings
from tests.eligibility.conftest import Clock


def test_the_local_date_is_the_citys() -> None:
    settings = ServiceSettings(city_time_zone="Asia/Shanghai")
    assert settings.local_date(datetime(2026, 11, 27, 15, 59, tzinfo=UTC)) == date(2026, 11, 27)
    assert settings.local_date(datetime(2026, 11, 27, 16, 0, tzinfo=UTC)) == date(2026, 11, 28)
    assert ServiceSettings(city_time_zone="UTC").local_date(
        datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    ) == date(2026, 11, 27)


def test_a_fact_dated_today_in_foshan_counts_in_the_utc_evening(
    eligibility: EligibilityApp, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # 01:00 on the 28th in Foshan
    assert eligibility.today() == date(2026, 11, 28)
    household = eligibility.register_household(
        region="CN-FS",
        estate="Nanhai Court",
        building="1",
        unit="101",
        base_rent=Decimal("600.00"),
        tenancy_start=date(2020, 1, 1),
        members=[MemberInput("440604198507151234", date(1985, 7, 15), False)],
    )
    report = DepartmentFactReported.model_validate(
        {
            "department": "civil_affairs",
            "reference": "MZ-local-1",
            "described_on": "2026-11-28",
            "household_id": str(household.id),
            "fact": {"kind": "income", "monthly_income": "4200.00"},
        }
    )
    assert eligibility.ingest([report]) == ["recorded"]
    assert eligibility.household(household.id).outcome == "exit_triggered"
