"""The dated policy values and the pure rules: working age on a date, whole months, completion."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from services.training import rules


def test_working_age_is_inclusive_in_whole_years_on_the_decision_date() -> None:
    on = date(2027, 2, 10)
    bounds = rules.load().working_age(on)
    assert bounds == (16, 59)
    assert rules.of_working_age(date(2011, 2, 10), on, bounds)  # 16 that very day
    assert not rules.of_working_age(date(2011, 2, 11), on, bounds)  # 16 tomorrow
    assert rules.of_working_age(date(1967, 2, 11), on, bounds)  # 59, 60 tomorrow
    assert not rules.of_working_age(date(1967, 2, 10), on, bounds)  # 60 today
    assert rules.age_on(date(2000, 2, 29), date(2027, 2, 28)) == 26
    assert rules.age_on(date(2000, 2, 29), date(2027, 3, 1)) == 27


def test_whole_months_and_completion() -> None:
    assert rules.whole_months(date(2027, 5, 15), date(2027, 11, 14)) == 5
    assert rules.whole_months(date(2027, 5, 15), date(2027, 11, 15)) == 6
    assert rules.whole_months(date(2027, 5, 15), date(2027, 1, 1)) == 0
    share = rules.load().min_attendance_share(date(2027, 3, 1))
    assert share == Decimal("0.75")
    assert rules.completed(3, 4, share) and not rules.completed(2, 4, share)
    assert not rules.completed(0, 0, share)


def test_the_value_in_force_is_the_latest_effective_on_or_before_the_date(tmp_path: Path) -> None:
    (tmp_path / "stable_work.yaml").write_text(
        """
rule: stable_work
values:
  - {effective_from: 2020-01-01, months: 6, legal_reference: first}
  - {effective_from: 2028-01-01, months: 12, legal_reference: revised}
""",
        encoding="utf-8",
    )
    params = rules.load(tmp_path)
    assert params.stable_months(date(2027, 12, 31)) == 6
    assert params.stable_months(date(2028, 1, 1)) == 12
    with pytest.raises(rules.ParameterError):
        params.stable_months(date(2019, 12, 31))
    assert params.in_force(date(2028, 6, 1))["stable_work"]["legal_reference"] == "revised"
