"""Person-scoped income (the "income trap"): an income fact naming a person is that member's own monthly
income, recorded in the member's scope; the per-capita income the exit rule compares is then the sum of
the current members' latest incomes divided by their number. A member without an income is `missing`,
never zero; a household per-capita figure still counts when it describes a later date (or the same)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from services.eligibility import rules
from services.eligibility.domain import Household
from services.eligibility.rules import Observation, Snapshot, Source, evaluate, parameters_at
from tests.eligibility.test_api import TODAY, assets, fact, facts, id_number, income, register

DAY = date.fromisoformat(TODAY)
TABLE = rules.load_table()
MEMBERS = ("m1", "m2", "m3", "m4")


def obs(value: str, reference: str, on: date = DAY, department: str = "civil_affairs") -> Observation:
    return Observation(Decimal(value), Source(department, reference, on))


def snapshot(
    incomes: dict[str, tuple[Observation, ...]], members: tuple[str, ...] = MEMBERS, assets: str = "1000.00"
) -> Snapshot:
    facts: dict[str, dict[str, tuple[Observation, ...]]] = {
        "income": incomes,
        "financial_assets": {"household": (obs(assets, "fin", department="finance"),)},
    }
    return Snapshot("CN-FS", facts, members=members)


def each(*amounts: str, on: date = DAY) -> dict[str, tuple[Observation, ...]]:
    """One income per member, in order (m1, m2, ...)."""
    return {f"m{i}": (obs(a, f"MZ-{i}", on),) for i, a in enumerate(amounts, start=1)}


def decide(shot: Snapshot, on: date = DAY) -> rules.Decision:
    parameters = parameters_at(TABLE, shot.region, on)
    decision = evaluate(shot, parameters)
    assert rules.outcome(shot, parameters) == decision.outcome
    return decision


# -- the rule ------------------------------------------------------------------------------------------


def test_member_incomes_are_divided_over_the_members() -> None:
    decision = decide(snapshot(each("0.00", "0.00", "0.00", "8788.00")))
    result = decision.result(rules.INCOME)
    assert decision.outcome == "qualifies"
    assert (result.status, result.observed) == ("clear", Decimal("2197.00"))
    assert result.comparison == (
        "(0.00 + 0.00 + 0.00 + 8788.00) / 4 members = 2197.00 <= 3960.00 yuan/person/month: within the limit"
    )
    assert [s.reference for s in result.sources] == ["MZ-1", "MZ-2", "MZ-3", "MZ-4"]
    assert result.threshold == Decimal("3960.00")


def test_the_per_capita_figure_is_rounded_half_up_to_the_cent_and_compared_strictly() -> None:
    def per_capita(*amounts: str) -> rules.RuleResult:
        members = tuple(f"m{i}" for i in range(1, len(amounts) + 1))
        return decide(snapshot(each(*amounts), members)).result(rules.INCOME)

    assert per_capita("0.01", "0.00").observed == Decimal("0.01")  # 0.005: half up, not to even
    assert per_capita("1000.00", "0.00", "0.00").observed == Decimal("333.33")
    assert per_capita("0.02", "0.00", "0.00").observed == Decimal("0.01")
    assert per_capita("7920.00", "0.00").status == "clear"  # exactly 3960.00
    above = per_capita("7920.02", "0.00")
    assert (above.status, above.observed) == ("exit", Decimal("3960.01"))
    assert above.comparison.startswith("(7920.02 + 0.00) / 2 members = 3960.01 > 3960.00")
    alone = per_capita("4000.00")
    assert alone.status == "exit" and alone.comparison.startswith("(4000.00) / 1 member = 4000.00 >")


def test_a_member_without_an_income_is_missing_not_zero() -> None:
    decision = decide(snapshot(each("0.00", "0.00", "8788.00")))  # m4 has none
    result = decision.result(rules.INCOME)
    assert decision.outcome == "needs_manual"
    assert (result.status, result.observed) == ("missing", None)
    assert "1 of 4 members" in result.comparison and "member m4" in result.comparison
    assert "m1" not in result.comparison
    assert len(result.sources) == 3  # what was reported is still shown


def test_a_member_reported_only_after_the_decision_date_is_not_known_yet() -> None:
    incomes = {**each("0.00", "0.00", "0.00"), "m4": (obs("100.00", "late", DAY + timedelta(days=3)),)}
    assert decide(snapshot(incomes)).result(rules.INCOME).status == "missing"
    assert decide(snapshot(incomes), DAY + timedelta(days=3)).result(rules.INCOME).observed == Decimal(
        "25.00"
    )


def test_conflicting_records_of_a_member_are_a_conflict() -> None:
    incomes = {
        **each("0.00", "0.00", "0.00"),
        "m4": (obs("8788.00", "a"), obs("9000.00", "b", department="tax")),
    }
    result = decide(snapshot(incomes)).result(rules.INCOME)
    assert (result.status, result.observed) == ("conflict", None)
    assert (
        "member m4" in result.comparison and "8788.00" in result.comparison and "9000.00" in result.comparison
    )
    assert len(result.sources) == 5


def test_staleness_is_that_of_the_oldest_member_income() -> None:
    tolerance = int(parameters_at(TABLE, "CN-FS", DAY).values[rules.STALENESS].value)
    incomes = {
        **each("0.00", "0.00", "0.00"),
        "m4": (obs("100.00", "old", DAY - timedelta(days=tolerance + 1)),),
    }
    result = decide(snapshot(incomes)).result(rules.INCOME)
    assert (result.status, result.observed) == ("stale", Decimal("25.00"))
    assert str(DAY - timedelta(days=tolerance + 1)) in result.comparison
    incomes["m4"] = (obs("100.00", "old", DAY - timedelta(days=tolerance)),)
    assert decide(snapshot(incomes)).result(rules.INCOME).status == "clear"


def test_incomes_of_people_no_longer_members_are_not_read() -> None:
    incomes = {**each("0.00", "3000.00"), "gone": (obs("90000.00", "left"),)}
    result = decide(snapshot(incomes, members=("m1", "m2"))).result(rules.INCOME)
    assert (result.status, result.observed) == ("clear", Decimal("1500.00"))
    assert "left" not in {s.reference for s in result.sources}
    # only a former member's income on record: as if none were, the household figure is needed
    alone = decide(snapshot({"gone": (obs("90000.00", "left"),)}, members=("m1",))).result(rules.INCOME)
    assert (alone.status, alone.sources) == ("missing", ())


def test_without_member_ids_only_a_household_figure_is_read() -> None:
    """A snapshot without members (built before members were passed) reads what it always read."""
    shot = snapshot({**each("9000.00"), "household": (obs("3000.00", "hh"),)}, members=())
    assert decide(shot).result(rules.INCOME).observed == Decimal("3000.00")


def test_the_figure_describing_the_later_date_is_used_the_household_one_on_a_tie() -> None:
    earlier, later = DAY - timedelta(days=30), DAY
    members_later = {
        **each("0.00", "0.00", "0.00", "8788.00", on=later),
        "household": (obs("8788.00", "hh", earlier),),
    }
    result = decide(snapshot(members_later)).result(rules.INCOME)
    assert (result.status, result.observed) == ("clear", Decimal("2197.00"))
    assert "member incomes are used" in result.comparison and str(earlier) in result.comparison
    assert "hh" not in {s.reference for s in result.sources}

    household_later = {
        **each("0.00", "0.00", "0.00", "8788.00", on=earlier),
        "household": (obs("4000.00", "hh"),),
    }
    result = decide(snapshot(household_later)).result(rules.INCOME)
    assert (result.status, result.observed) == ("exit", Decimal("4000.00"))
    assert result.comparison.startswith("4000.00 > 3960.00")
    assert f"the household's per-capita figure of {later} is used" in result.comparison
    assert str(earlier) in result.comparison
    assert [s.reference for s in result.sources] == ["hh"]

    tie = {**each("0.00", "0.00", "0.00", "8788.00"), "household": (obs("3000.00", "hh"),)}
    result = decide(snapshot(tie)).result(rules.INCOME)
    assert result.observed == Decimal("3000.00") and "the same date: a tie" in result.comparison

    # a later household figure also stands in for a member who has none
    partial = {**each("0.00", on=earlier), "household": (obs("1000.00", "hh"),)}
    assert decide(snapshot(partial)).result(rules.INCOME).status == "clear"
    # but a later member income is never hidden by an older household figure
    partial = {**each("9000.00"), "household": (obs("1000.00", "hh", earlier),)}
    assert decide(snapshot(partial)).result(rules.INCOME).status == "missing"


# -- properties ------------------------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=Decimal("20000.00"), places=2, allow_nan=False)


@settings(database=None, max_examples=200)
@given(
    incomes=st.lists(amounts, min_size=1, max_size=6),
    which=st.integers(min_value=0, max_value=5),
    raise_by=st.decimals(min_value=0, max_value=Decimal("20000.00"), places=2, allow_nan=False),
)
def test_raising_a_members_income_never_turns_exit_into_qualifies(
    incomes: list[Decimal], which: int, raise_by: Decimal
) -> None:
    members = tuple(f"m{i}" for i in range(len(incomes)))

    def decided(values: list[Decimal]) -> rules.Decision:
        return decide(snapshot({m: (obs(str(v), m),) for m, v in zip(members, values, strict=True)}, members))

    raised = list(incomes)
    raised[which % len(incomes)] += raise_by
    before, after = decided(incomes).result(rules.INCOME), decided(raised).result(rules.INCOME)
    expected = (sum(incomes, Decimal("0")) / len(incomes)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert before.observed == expected
    assert before.observed is not None and after.observed is not None
    assert before.observed <= after.observed
    if before.status == "exit":
        assert after.status == "exit"


member_observations = st.lists(
    st.builds(
        lambda value, day, department: Observation(
            value, Source(department, f"r{day}", DAY - timedelta(days=day))
        ),
        st.sampled_from(
            [Decimal("0.00"), Decimal("3960.00"), Decimal("3960.01"), Decimal("8788.00"), Decimal("11880.03")]
        ),
        st.integers(min_value=-3, max_value=400),  # a negative age: described after the decision date
        st.sampled_from(["civil_affairs", "tax"]),
    ),
    min_size=1,
    max_size=2,
).map(lambda found: tuple(sorted(found, key=lambda o: o.source.described_on, reverse=True)))


@settings(database=None, max_examples=400)
@given(
    incomes=st.dictionaries(st.sampled_from(["household", "m1", "m2", "m3", "gone"]), member_observations),
    members=st.lists(st.sampled_from(["m1", "m2", "m3"]), unique=True, max_size=3).map(tuple),
    days_later=st.integers(min_value=0, max_value=400),
)
def test_the_outcome_alone_agrees_with_the_explained_income_rule(
    incomes: dict[str, tuple[Observation, ...]], members: tuple[str, ...], days_later: int
) -> None:
    """`rules.outcome` (what-if) against `evaluate`, with the other rules clear so that the outcome is
    the income rule's: member incomes missing, conflicting, stale, not yet described, a former member's,
    and a household figure of an earlier, the same or a later date."""
    on = DAY + timedelta(days=days_later)
    shot = Snapshot(
        "CN-FS",
        {"income": incomes, "financial_assets": {"household": (obs("1000.00", "fin", on, "finance"),)}},
        members=members,
    )
    parameters = parameters_at(TABLE, "CN-FS", on)
    decision = evaluate(shot, parameters)
    assert rules.outcome(shot, parameters) == decision.outcome
    result = decision.result(rules.INCOME)
    assert {"exit": "exit_triggered", "clear": "qualifies"}.get(
        result.status, "needs_manual"
    ) == decision.outcome


# -- the household's facts -------------------------------------------------------------------------------


def test_the_household_snapshot_names_its_current_members() -> None:
    members: list[dict[str, Any]] = [
        {
            "member_id": f"id-{i}",
            "person_hash": f"{i}" * 64,
            "birth_date": date(1985, 7, 15),
            "disabled": False,
        }
        for i in (1, 2)
    ]
    household = Household("CN-FS", "Chancheng Garden", "3", "1204", Decimal("680.00"), DAY, members)
    household.record_fact(
        "civil_affairs", "MZ-1", DAY, {"kind": "income", "monthly_income": "1000.00"}, "id-1"
    )
    assert household.snapshot().members == ("id-1", "id-2")
    assert household.snapshot().scopes("income")["id-1"][0].value == Decimal("1000.00")
    household.change_members(members[1:])
    assert household.snapshot().members == ("id-2",)


# -- through the API -------------------------------------------------------------------------------------

FOUR = [id_number(n) for n in (11, 12, 13, 14)]


async def four_members(client: httpx.AsyncClient) -> dict[str, Any]:
    household = await register(client, *FOUR)
    await facts(client, fact(household["household_id"], "CZ-1", assets("12000.00")))
    return household


def member_income(person_hash: str, reference: str, amount: str) -> dict[str, Any]:
    return {**fact("", reference, income(amount)), "household_id": None, "person_hash": person_hash}


async def test_each_members_income_is_theirs_and_divided_over_four(client: httpx.AsyncClient) -> None:
    household = await four_members(client)
    lines = [
        member_income(m["person_hash"], f"MZ-{i}", amount)
        for i, (m, amount) in enumerate(
            zip(household["members"], ["0.00", "0.00", "0.00", "8788.00"], strict=True)
        )
    ]
    answer = await facts(client, *lines)
    assert [r["status"] for r in answer["results"]] == ["recorded"] * 4
    response = await client.get(f"/households/{household['household_id']}")
    view = response.json()
    assert set(view["facts"]["income"]) == {m["member_id"] for m in household["members"]}  # no "household"
    assert view["decision"]["outcome"] == "qualifies"
    rule = next(r for r in view["decision"]["rules"] if r["rule"] == rules.INCOME)
    assert (rule["status"], rule["observed"]) == ("clear", "2197.00")
    assert rule["comparison"].startswith("(0.00 + 0.00 + 0.00 + 8788.00) / 4 members = 2197.00 <= 3960.00")
    assert len(rule["sources"]) == 4
    assert view["open_case"] is None
    assert not any(n in response.text for n in FOUR)


async def test_a_member_without_an_income_sends_the_household_to_a_person(client: httpx.AsyncClient) -> None:
    household = await four_members(client)
    reported, lacking = household["members"][:3], household["members"][3]
    lines = [
        member_income(m["person_hash"], f"MZ-{i}", amount)
        for i, (m, amount) in enumerate(zip(reported, ["0.00", "0.00", "8788.00"], strict=True))
    ]
    await facts(client, *lines)
    response = await client.get(f"/households/{household['household_id']}")
    view = response.json()
    assert view["decision"]["outcome"] == "needs_manual"
    rule = next(r for r in view["decision"]["rules"] if r["rule"] == rules.INCOME)
    assert (rule["status"], rule["observed"]) == ("missing", None)
    assert "1 of 4 members" in rule["comparison"] and lacking["member_id"] in rule["comparison"]
    assert not any(n in response.text for n in FOUR)

    # its income arrives: decided on all four
    await facts(client, member_income(lacking["person_hash"], "MZ-late", "0.00"))
    view = (await client.get(f"/households/{household['household_id']}")).json()
    assert view["decision"]["outcome"] == "qualifies"
    assert next(r for r in view["decision"]["rules"] if r["rule"] == rules.INCOME)["observed"] == "2197.00"


async def test_a_household_figure_without_a_person_is_still_per_capita(client: httpx.AsyncClient) -> None:
    household = await register(client, *FOUR)
    hid = household["household_id"]
    await facts(client, fact(hid, "CZ-1", assets("12000.00")), fact(hid, "MZ-hh", income("4000.00")))
    view = (await client.get(f"/households/{hid}")).json()
    assert set(view["facts"]["income"]) == {"household"}
    assert view["decision"]["outcome"] == "exit_triggered"


async def test_a_household_named_with_a_person_not_its_member_is_unmatched(client: httpx.AsyncClient) -> None:
    """Which of the two the figure describes cannot be known: it is not read as the household's."""
    household = await four_members(client)
    stranger = (await register(client, id_number(15)))["members"][0]["person_hash"]
    line = {**member_income(stranger, "MZ-x", "9000.00"), "household_id": household["household_id"]}
    answer = await facts(client, line)
    assert [r["status"] for r in answer["results"]] == ["unmatched"]
    view = (await client.get(f"/households/{household['household_id']}")).json()
    assert "income" not in view["facts"]
