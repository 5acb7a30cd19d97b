"""Ledger arithmetic, pure: the transition schedule under both rules, the surcharge, their overlap, the
rounding rule, holds (an open appeal) and cancellations, and dated parameters."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.penalties.domain import (
    Tenancy,
    add_months,
    last_day,
    line_amount,
    money,
    month_of,
    parse_month,
    transition_schedule,
)
from services.penalties.parameters import ParameterError, load

FEB = date(2027, 2, 1)


def amounts(base: str, rule: str) -> list[str]:
    return [f"{rent:.2f}" for _, rent in transition_schedule(Decimal(base), FEB, 6, Decimal("0.10"), rule)]


def test_six_month_schedule_simple_rule_adds_ten_percent_of_the_base_each_month() -> None:
    assert amounts("1000.00", "simple") == ["1100.00", "1200.00", "1300.00", "1400.00", "1500.00", "1600.00"]


def test_six_month_schedule_compound_rule_rises_on_the_previous_month() -> None:
    assert amounts("1000.00", "compound") == [
        "1100.00",
        "1210.00",
        "1331.00",
        "1464.10",
        "1610.51",
        "1771.56",
    ]


def test_compound_months_are_rounded_once_from_the_exact_value_half_up() -> None:
    # 1000.01 x 1.1^5 = 1610.526...: rounding each month from the previous rounded month would give
    # 1610.52 and then 1771.57; the exact value gives 1610.53 and 1771.58.
    schedule = amounts("1000.01", "compound")
    assert schedule == ["1100.01", "1210.01", "1331.01", "1464.11", "1610.53", "1771.58"]
    assert money(Decimal("0.005")) == Decimal("0.01")  # half up, not banker's rounding
    assert money(Decimal("2.675")) == Decimal("2.68")


def tenancy(base: str = "1000.00") -> Tenancy:
    return Tenancy(uuid4(), "CN-FS", "Chancheng Garden", "3", "1204", Decimal(base), date(2020, 1, 1))


def totals(t: Tenancy, first: date, last: date) -> dict[str, str]:
    return {m["month"]: m["total_due"] for m in t.statement(first, last)}


def test_surcharge_is_fifty_percent_of_the_base_rounded_half_up() -> None:
    t = tenancy("1234.57")
    t.adjust(uuid4(), "surcharge", uuid4(), date(2027, 4, 1), Decimal("0.50"), 0, "", "surcharge")
    assert totals(t, date(2027, 3, 1), date(2027, 5, 1)) == {
        "2027-03": "1234.57",
        "2027-04": "1851.86",  # 1234.57 + 617.285 → 617.29
        "2027-05": "1851.86",
    }


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("simple", ["1100.00", "1200.00", "1800.00", "1900.00", "2000.00", "2100.00", "2100.00"]),
        ("compound", ["1100.00", "1210.00", "1831.00", "1964.10", "2110.51", "2271.56", "2271.56"]),
    ],
)
def test_surcharge_during_a_transition_adds_to_the_step_and_never_multiplies(
    rule: str, expected: list[str]
) -> None:
    t = tenancy()
    review, plan = uuid4(), uuid4()
    t.start_plan(plan, review, "transition", date(2027, 1, 15), 6, Decimal("0.10"), rule, 60, "plan")
    assert t.transition is not None and t.transition["exit_due_on"] == date(2027, 7, 31)
    t.adjust(uuid4(), "surcharge", uuid4(), date(2027, 4, 1), Decimal("0.50"), 0, "", "surcharge")
    # February … July is the plan; in August (overdue) the rent stays at the last step plus the surcharge.
    assert list(totals(t, FEB, date(2027, 8, 1)).values()) == expected
    assert totals(t, date(2027, 1, 1), date(2027, 1, 1)) == {"2027-01": "1000.00"}


def test_exit_route_has_a_due_date_and_no_rent_steps() -> None:
    t = tenancy()
    t.start_plan(uuid4(), uuid4(), "exit", date(2027, 1, 15), 6, Decimal("0.10"), "simple", 60, "exit")
    assert t.transition is not None and t.transition["exit_due_on"] == date(2027, 3, 16)
    assert not t.adjustments
    assert set(totals(t, FEB, date(2027, 4, 1)).values()) == {"1000.00"}


def test_an_open_hold_suspends_from_its_month_and_a_release_makes_the_months_due_again() -> None:
    t = tenancy()
    surcharge = uuid4()
    t.adjust(surcharge, "surcharge", uuid4(), date(2027, 4, 1), Decimal("0.50"), 0, "", "surcharge")
    appeal = uuid4()
    t.place_hold(appeal, [surcharge], date(2027, 5, 10), "appeal", covers_plan=False)
    months = t.statement(date(2027, 4, 1), date(2027, 6, 1))
    assert [m["total_due"] for m in months] == ["1500.00", "1000.00", "1000.00"]
    assert [m["adjustments"][0]["status"] for m in months] == ["charged", "suspended", "suspended"]
    t.release_hold(appeal, date(2027, 6, 20), "dismissed")  # a hold defers, it does not waive
    assert list(totals(t, date(2027, 4, 1), date(2027, 6, 1)).values()) == ["1500.00"] * 3


def test_an_ended_line_stops_after_its_last_month_and_a_cancelled_one_never_applied() -> None:
    t = tenancy()
    ended, cancelled = uuid4(), uuid4()
    t.adjust(ended, "surcharge", uuid4(), date(2027, 4, 1), Decimal("0.50"), 0, "", "a")
    t.adjust(cancelled, "surcharge", uuid4(), date(2027, 4, 1), Decimal("0.20"), 0, "", "b")
    t.end_adjustment(ended, date(2027, 5, 1), "rectified")
    t.cancel_adjustment(cancelled, "appeal upheld")
    assert list(totals(t, date(2027, 4, 1), date(2027, 6, 1)).values()) == ["1500.00", "1500.00", "1000.00"]
    assert line_amount(t.adjustments[str(cancelled)], t.base_rent, date(2027, 4, 1)) is None


def test_parameters_are_dated_and_regional(tmp_path: Path) -> None:
    defaults = load().policy("CN-FS", date(2027, 1, 1))
    assert (defaults.transition_months, defaults.transition_monthly_rise, defaults.transition_rule) == (
        6,
        Decimal("0.10"),
        "simple",
    )
    assert (defaults.surcharge_rate, defaults.subsidy_amount) == (Decimal("0.50"), Decimal("5000.00"))
    source = Path(load.__code__.co_filename).with_name("parameters")
    for path in source.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    rule = tmp_path / "transition_rule.yaml"
    rule.write_text(
        rule.read_text()
        + "    - effective_from: 2028-01-01\n      value: compound\n      legal_reference: test\n"
    )
    table = load(tmp_path)
    assert table.policy("CN-FS", date(2027, 12, 31)).transition_rule == "simple"
    assert table.policy("CN-FS", date(2028, 1, 1)).transition_rule == "compound"
    with pytest.raises(ParameterError):
        table.policy("CN-GZ", date(2028, 1, 1))


# -- properties over dates (hypothesis) ---------------------------------------------------------------

DECISION_DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2099, 12, 31))
BASES = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("20000.00"), places=2)
RULES = st.sampled_from(["simple", "compound"])


@settings(max_examples=200, deadline=None)
@given(decided=DECISION_DAYS, base=BASES, rule=RULES, months=st.integers(min_value=1, max_value=24))
def test_a_plan_steps_monthly_from_the_month_after_the_decision_and_never_before_it(
    decided: date, base: Decimal, rule: str, months: int
) -> None:
    t = tenancy(str(base))
    plan = uuid4()
    t.start_plan(plan, uuid4(), "transition", decided, months, Decimal("0.10"), rule, 60, "plan")
    assert t.transition is not None
    first = t.transition["first_month"]
    assert first == add_months(month_of(decided), 1) and first > decided
    schedule = transition_schedule(base, first, months, Decimal("0.10"), rule)
    # one step a month, consecutive, each dearer than the last, the first already above the base
    assert [m for m, _ in schedule] == [add_months(first, k) for k in range(months)]
    rents = [r for _, r in schedule]
    assert rents[0] > base and all(a < b for a, b in pairwise(rents))
    # due on the plan's last day, and the exit is never before the decision
    assert t.transition["exit_due_on"] == last_day(add_months(first, months - 1)) > decided
    # the ledger: nothing but the base up to the decision's month, then the schedule, then the last step
    before = t.statement(add_months(month_of(decided), -2), month_of(decided))
    assert {m["total_due"] for m in before} == {f"{base:.2f}"}
    during = t.statement(first, add_months(first, months))
    assert [m["total_due"] for m in during] == [f"{r:.2f}" for r in rents] + [f"{rents[-1]:.2f}"]


@settings(max_examples=200, deadline=None)
@given(
    decided=DECISION_DAYS,
    base=BASES,
    rule=RULES,
    held=st.integers(min_value=0, max_value=8),
    released=st.integers(min_value=0, max_value=8),
)
def test_a_hold_defers_the_steps_and_never_waives_or_moves_them(
    decided: date, base: Decimal, rule: str, held: int, released: int
) -> None:
    t = tenancy(str(base))
    plan, appeal = uuid4(), uuid4()
    t.start_plan(plan, uuid4(), "transition", decided, 6, Decimal("0.10"), rule, 60, "plan")
    assert t.transition is not None
    first = t.transition["first_month"]
    plain = [m["total_due"] for m in t.statement(first, add_months(first, 5))]
    since = add_months(first, held)
    t.place_hold(appeal, [plan], since, "appeal", covers_plan=True)
    suspended = t.statement(first, add_months(first, 5))
    assert all(m["total_due"] == f"{base:.2f}" for m in suspended if parse_month(m["month"]) >= since)
    t.release_hold(appeal, add_months(since, released), "dismissed")
    assert [m["total_due"] for m in t.statement(first, add_months(first, 5))] == plain
    assert t.transition["exit_due_on"] == last_day(add_months(first, 5))  # the hold moved no date
