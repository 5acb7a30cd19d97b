"""The pure exit rules: boundaries of every rule, dated and regional parameters, explanations, and the
property that more income can never make a failing household qualify."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.eligibility import rules
from services.eligibility.rules import Observation, ParameterValue, Snapshot, Source, evaluate, parameters_at

TODAY = date(2026, 11, 27)
TABLE = rules.load_table()


def obs(value: str, reference: str = "r", on: date = TODAY, department: str = "civil_affairs") -> Observation:
    return Observation(Decimal(value), Source(department, reference, on))


def household(
    income: str | None = "3000.00",
    assets: str | None = "1000.00",
    properties: dict[str, str] | None = None,
    region: str = "CN-FS",
    on: date = TODAY,
) -> Snapshot:
    facts: dict[str, dict[str, tuple[Observation, ...]]] = {}
    if income is not None:
        facts["income"] = {"household": (obs(income, "inc", on),)}
    if assets is not None:
        facts["financial_assets"] = {"household": (obs(assets, "fin", on, "finance"),)}
    if properties:
        facts["property"] = {ref: (obs(area, ref, on, "real_estate"),) for ref, area in properties.items()}
    return Snapshot(region, facts)


def decide(snapshot: Snapshot, on: date = TODAY, table: rules.ParameterTable = TABLE) -> rules.Decision:
    return evaluate(snapshot, parameters_at(table, snapshot.region, on))


def test_foshan_defaults_come_from_the_parameter_files() -> None:
    in_force = parameters_at(TABLE, "CN-FS", TODAY)
    assert in_force.values[rules.INCOME].value == Decimal("3960.00")
    assert in_force.values[rules.HOUSING].value == Decimal("60.00")
    assert in_force.values[rules.ASSETS].value == Decimal("200000.00")
    assert in_force.values[rules.STALENESS].unit == "days"
    assert all(v.legal_reference for v in in_force.values.values())


@pytest.mark.parametrize(
    ("income", "outcome"),
    [("3959.99", "qualifies"), ("3960.00", "qualifies"), ("3960.01", "exit_triggered")],
)
def test_income_boundary(income: str, outcome: str) -> None:
    assert decide(household(income=income)).outcome == outcome


@pytest.mark.parametrize(
    ("areas", "outcome"),
    [
        ({"P1": "60.00"}, "qualifies"),
        ({"P1": "60.01"}, "exit_triggered"),
        ({"P1": "30.00", "P2": "30.00"}, "qualifies"),  # all properties of the family together
        ({"P1": "30.00", "GZ-7": "30.01"}, "exit_triggered"),  # in another city too
    ],
)
def test_housing_boundary(areas: dict[str, str], outcome: str) -> None:
    decision = decide(household(properties=areas))
    assert decision.outcome == outcome
    assert decision.result(rules.HOUSING).observed == sum(Decimal(a) for a in areas.values())


@pytest.mark.parametrize(("assets", "outcome"), [("200000.00", "qualifies"), ("200000.01", "exit_triggered")])
def test_financial_assets_boundary(assets: str, outcome: str) -> None:
    assert decide(household(assets=assets)).outcome == outcome


def test_the_explanation_names_input_source_parameter_and_comparison() -> None:
    result = decide(household(income="4200.00")).result(rules.INCOME)
    assert result.status == "exit" and result.triggered
    assert result.observed == Decimal("4200.00")
    assert result.sources == (Source("civil_affairs", "inc", TODAY),)
    assert result.threshold == Decimal("3960.00")
    assert result.effective_from == date(2020, 1, 1)
    assert "Foshan" in result.legal_reference
    assert result.comparison.startswith("4200.00 > 3960.00")


def test_a_new_value_applies_from_its_effective_date_not_the_day_before() -> None:
    raised = ParameterValue(
        rules.INCOME, "CN-FS", date(2027, 1, 1), Decimal("4200.00"), "yuan/person/month", "Notice 2026/12"
    )
    table = TABLE.with_values([raised])
    snapshot = household(income="4100.00", on=date(2026, 12, 30))
    day_before = decide(snapshot, date(2026, 12, 31), table)
    on_the_day = decide(snapshot, date(2027, 1, 1), table)
    assert day_before.outcome == "exit_triggered"
    assert day_before.result(rules.INCOME).threshold == Decimal("3960.00")
    assert on_the_day.outcome == "qualifies"
    assert on_the_day.result(rules.INCOME).effective_from == date(2027, 1, 1)
    assert on_the_day.result(rules.INCOME).legal_reference == "Notice 2026/12"
    # history is kept: both values are there, in order
    assert [v.value for v in table.history(rules.INCOME, "CN-FS")] == [Decimal("3960.00"), Decimal("4200.00")]


def test_history_is_never_overwritten() -> None:
    same_day = ParameterValue(
        rules.INCOME, "CN-FS", date(2020, 1, 1), Decimal("1.00"), "yuan/person/month", "typo"
    )
    with pytest.raises(rules.ParameterError, match="never overwritten"):
        TABLE.check(same_day)


def test_each_region_uses_its_own_values() -> None:
    guangzhou = [
        ParameterValue(
            rules.INCOME, "CN-GZ", date(2025, 1, 1), Decimal("4500.00"), "yuan/person/month", "GZ"
        ),
        ParameterValue(rules.HOUSING, "CN-GZ", date(2025, 1, 1), Decimal("40.00"), "m2", "GZ"),
        ParameterValue(rules.ASSETS, "CN-GZ", date(2025, 1, 1), Decimal("300000.00"), "yuan", "GZ"),
    ]
    table = TABLE.with_values(guangzhou)
    assert decide(household(income="4200.00"), table=table).outcome == "exit_triggered"
    assert decide(household(income="4200.00", region="CN-GZ"), table=table).outcome == "qualifies"
    assert decide(household(properties={"P": "50.00"}), table=table).outcome == "qualifies"
    assert (
        decide(household(properties={"P": "50.00"}, region="CN-GZ"), table=table).outcome == "exit_triggered"
    )
    # a region without values is never decided automatically
    unknown = decide(household(region="CN-ZQ"))
    assert unknown.outcome == "needs_manual"
    assert {r.status for r in unknown.results} == {"no_parameter"}


def test_missing_data_needs_a_person() -> None:
    decision = decide(household(income=None))
    assert decision.outcome == "needs_manual"
    assert decision.result(rules.INCOME).status == "missing"


def test_stale_data_needs_a_person_and_the_tolerance_is_a_parameter() -> None:
    tolerance = int(parameters_at(TABLE, "CN-FS", TODAY).values[rules.STALENESS].value)
    fresh = household(on=TODAY - timedelta(days=tolerance))
    stale = household(on=TODAY - timedelta(days=tolerance + 1))
    assert decide(fresh).outcome == "qualifies"
    assert decide(stale).outcome == "needs_manual"
    assert decide(stale).result(rules.INCOME).status == "stale"


def test_conflicting_reports_of_the_same_date_need_a_person() -> None:
    snapshot = Snapshot(
        "CN-FS",
        {
            "income": {"household": (obs("3000.00", "a"), obs("3500.00", "b", department="tax"))},
            "financial_assets": {"household": (obs("10.00"),)},
        },
    )
    decision = decide(snapshot)
    assert decision.outcome == "needs_manual"
    assert decision.result(rules.INCOME).status == "conflict"
    assert len(decision.result(rules.INCOME).sources) == 2


def test_a_breach_is_exit_even_when_other_data_is_missing() -> None:
    assert decide(household(income="5000.00", assets=None)).outcome == "exit_triggered"


def test_member_assets_are_summed_when_no_household_total_exists() -> None:
    snapshot = Snapshot(
        "CN-FS",
        {
            "income": {"household": (obs("3000.00"),)},
            "financial_assets": {"m1": (obs("100000.00", "f1"),), "m2": (obs("100000.01", "f2"),)},
        },
    )
    decision = decide(snapshot)
    assert decision.result(rules.ASSETS).observed == Decimal("200000.01")
    assert decision.outcome == "exit_triggered"


amounts = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2, allow_nan=False)


@settings(database=None, max_examples=200)
@given(
    income=amounts,
    raise_by=st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2, allow_nan=False),
    assets=st.one_of(st.none(), st.decimals(min_value=0, max_value=Decimal("400000"), places=2)),
    area=st.one_of(st.none(), st.decimals(min_value=0, max_value=Decimal("120"), places=2)),
    age_days=st.integers(min_value=0, max_value=400),
)
def test_raising_income_never_turns_exit_into_qualifies(
    income: Decimal, raise_by: Decimal, assets: Decimal | None, area: Decimal | None, age_days: int
) -> None:
    on = TODAY - timedelta(days=age_days)

    def snapshot(value: Decimal) -> Snapshot:
        return household(
            income=str(value),
            assets=None if assets is None else str(assets),
            properties=None if area is None else {"P": str(area)},
            on=on,
        )

    before = decide(snapshot(income)).outcome
    after = decide(snapshot(income + raise_by)).outcome
    if before == "exit_triggered":
        assert after == "exit_triggered"
    assert not (before != "qualifies" and after == "qualifies")


def test_cross_region_answers_match_exits_and_unverified_is_never_clear() -> None:
    def with_answers(**answers: rules.CrossRegionResult) -> rules.Decision:
        base = household()
        return decide(Snapshot(base.region, base.facts, {k.replace("_", "-"): v for k, v in answers.items()}))

    assert decide(household()).outcome == "qualifies"  # no check answered: the rule is not applied
    assert with_answers(CN_GZ="no_match", CN_DG="no_match").outcome == "qualifies"
    unverified = with_answers(CN_GZ="no_match", CN_ZQ="unverified")
    assert unverified.outcome == "needs_manual"
    assert unverified.result(rules.CROSS_REGION).status == "unverified"
    assert "CN-ZQ" in unverified.result(rules.CROSS_REGION).comparison
    matched = with_answers(CN_GZ="match", CN_ZQ="unverified")
    assert matched.outcome == "exit_triggered"
    assert matched.result(rules.CROSS_REGION).legal_reference


observations = st.lists(
    st.builds(
        lambda value, day, department: Observation(
            value, Source(department, f"r{day}", TODAY - timedelta(days=day))
        ),
        st.sampled_from(
            [Decimal("0.00"), Decimal("3960.00"), Decimal("3960.01"), Decimal("150.5"), Decimal("90")]
        ),
        st.integers(min_value=-3, max_value=500),  # a negative age: described after the decision date
        st.sampled_from(["civil_affairs", "finance", "real_estate"]),
    ),
    min_size=1,
    max_size=3,
).map(lambda found: tuple(sorted(found, key=lambda o: o.source.described_on, reverse=True)))
scopes = st.dictionaries(
    st.sampled_from(["household", "m1", "m2", "m3", "P1", "P2"]), observations, max_size=4
)
members = st.lists(st.sampled_from(["m1", "m2", "m3"]), unique=True, max_size=3).map(tuple)
"""The current members: member-scoped incomes are divided over them (those of others are not read)."""


@settings(database=None, max_examples=400)
@given(
    facts=st.dictionaries(st.sampled_from(["income", "financial_assets", "property"]), scopes, max_size=3),
    cross_region=st.dictionaries(
        st.sampled_from(["CN-GZ", "CN-DG"]), st.sampled_from(["match", "no_match", "unverified"]), max_size=2
    ),
    region=st.sampled_from(["CN-FS", "CN-XX"]),  # CN-XX: no parameter in force
    days_later=st.integers(min_value=0, max_value=800),
    members=members,
)
def test_the_outcome_alone_is_the_outcome_of_the_explained_decision(
    facts: dict[str, dict[str, tuple[Observation, ...]]],
    cross_region: dict[str, rules.CrossRegionResult],
    region: str,
    days_later: int,
    members: tuple[str, ...],
) -> None:
    """What-if asks `rules.outcome` (no explanation built) of every household: it must agree with
    `evaluate` on every input, including missing, stale, conflicting and not-yet-described facts, and
    member incomes (divided over the members, some missing, or set against a household figure)."""
    snapshot = Snapshot(region, facts, cross_region, members)
    parameters = parameters_at(TABLE, region, TODAY + timedelta(days=days_later))
    assert rules.outcome(snapshot, parameters) == evaluate(snapshot, parameters).outcome
