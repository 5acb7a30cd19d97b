"""Households on a rent subsidy (no unit), on SQLite and PostgreSQL: registered through the API, decided
by the same exit rules, shown without an estate; and, over a real nats-server, published as
`rent-subsidy-registered` and followed sensibly by penalties (no rent ledger, its exit decision
acknowledged rather than retried), resettlement and training (members and exit, under "(rent subsidy)")."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from services.eligibility.application import Actor, EligibilityApp, MemberInput, Refused
from services.eligibility.domain import Household, RentSubsidy, ReviewCase
from services.eligibility.service import build
from services.eligibility.settings import EligibilitySettings
from services.kit.bus import connect, ensure_streams
from services.kit.clock import install
from services.kit.households import RENT_SUBSIDY_ESTATE
from services.kit.runtime import Runtime
from services.penalties.application import PenaltiesApp
from services.penalties.domain import Tenancy
from services.penalties.handlers import RentSubsidyHousehold
from services.penalties.service import build as build_penalties
from services.penalties.settings import PenaltiesSettings
from services.resettlement.application import ResettlementApp
from services.resettlement.domain import Household as ResettlementHousehold
from services.resettlement.domain import PlacementCase
from services.resettlement.service import build as build_resettlement
from services.resettlement.settings import ResettlementSettings
from services.training.application import TrainingApp
from services.training.domain import Household as TrainingHousehold
from services.training.domain import Referral
from services.training.service import build as build_training
from services.training.settings import TrainingSettings
from tests.eligibility.conftest import Clock
from tests.eligibility.test_api import TODAY, fact, facts, household_body, income, subsidy_body
from tests.eligibility.test_bus import read_stream, wait_for
from tests.support.nats import NatsServer

ID_1 = "440604198507151234"
ID_2 = "44060420150301002X"
REVIEWER = Actor("reviewer.li", "reviewer")
SUPERVISOR = Actor("supervisor.chen", "supervisor")


async def test_a_rent_subsidy_household_is_registered_without_a_unit(client: httpx.AsyncClient) -> None:
    response = await client.post("/households", json=subsidy_body(ID_1, ID_2, reference="R000001"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["housing"] == "rent_subsidy" and body["reference"] == "R000001"
    assert (body["estate"], body["building"], body["unit"], body["base_rent"]) == (None, None, None, None)
    assert body["rent_subsidy"] == {"monthly_subsidy": "650.00", "start": "2021-03-01", "district": "Nanhai"}
    assert ID_1 not in response.text and len(body["members"]) == 2
    listed = (await client.get("/households")).json()["items"]
    assert [(h["household_id"], h["estate"]) for h in listed] == [(body["household_id"], None)]
    timeline = (await client.get(f"/households/{body['household_id']}/timeline")).json()
    first = timeline["entries"][0]
    assert "rent subsidy in Nanhai" in first["summary"] and "650.00" in first["reason"]


@pytest.mark.parametrize(
    "change",
    [
        {"monthly_subsidy": "650"},  # not yet a refusal: kept to the fen below
        {"monthly_subsidy": 650},  # a JSON number
        {"monthly_subsidy": "-1.00"},
        {"subsidy_start": "0"},
        {"estate": "Chancheng Garden"},  # a unit and a subsidy at once
        {"members": []},
    ],
)
async def test_a_rent_subsidy_registration_says_its_amount_and_start_exactly(
    client: httpx.AsyncClient, change: dict[str, Any]
) -> None:
    response = await client.post("/households", json={**subsidy_body(ID_1), **change})
    if change == {"monthly_subsidy": "650"}:
        assert response.status_code == 201
        assert response.json()["rent_subsidy"]["monthly_subsidy"] == "650.00"
        return
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_same_exit_rules_decide_a_rent_subsidy_household(client: httpx.AsyncClient) -> None:
    """Per-capita income over 3,960 yuan: exit triggered (exit means losing the subsidy), a case opens,
    with no estate; what-if counts it under "(rent subsidy)"."""
    household = (await client.post("/households", json=subsidy_body(ID_1))).json()["household_id"]
    await facts(client, fact(household, "MZ-1", income("3960.00")))
    decided = (await client.get(f"/households/{household}")).json()
    assert decided["decision"]["outcome"] != "exit_triggered" and decided["open_case"] is None
    await facts(client, fact(household, "MZ-2", income("3960.01"), described_on=TODAY))
    decided = (await client.get(f"/households/{household}")).json()
    assert decided["decision"]["outcome"] == "exit_triggered"
    case = (await client.get(f"/cases/{decided['open_case']}")).json()
    assert case["estate"] is None and case["region"] == "CN-FS"

    what_if = await client.post(
        "/what-if",
        json={"on": TODAY, "values": [{"rule": "income_per_capita", "region": "CN-FS", "value": "5000.00"}]},
    )
    assert what_if.status_code == 200, what_if.text
    flips = what_if.json()["flips"] if "flips" in what_if.json() else what_if.json()
    assert '"(rent subsidy)": 1' in json.dumps(flips)


async def test_only_city_wide_operators_see_a_household_without_an_estate(client: httpx.AsyncClient) -> None:
    """The gateway's object-level check reads `estate`: a household on a rent subsidy has none, so an
    operator assigned to estates never sees it (not in lists, not by id), one with city-wide scope does."""
    from gateway.operations import Operations
    from gateway.roles import Principal, scopes_for
    from services.kit.http import Problem

    subsidised = (await client.post("/households", json=subsidy_body(ID_1))).json()
    in_unit = (await client.post("/households", json=household_body(ID_2))).json()
    listed = (await client.get("/households")).json()["items"]
    estate_scoped = Principal(
        "reviewer.wu", "reviewer", scopes_for("reviewer"), frozenset({"Chancheng Garden"})
    )
    city_wide = Principal("supervisor.chen", "supervisor", scopes_for("supervisor"), None)

    assert [h["household_id"] for h in Operations.visible(estate_scoped, listed)] == [in_unit["household_id"]]
    assert {h["household_id"] for h in Operations.visible(city_wide, listed)} == {
        subsidised["household_id"],
        in_unit["household_id"],
    }
    with pytest.raises(Problem):
        Operations.check_object(estate_scoped, subsidised)
    Operations.check_object(city_wide, subsidised)


def test_the_application_refuses_a_household_with_neither_kind_of_housing(
    eligibility: EligibilityApp,
) -> None:
    with pytest.raises(Refused):
        eligibility.register_household(
            region="CN-FS", estate="Chancheng Garden", members=[MemberInput(ID_1, date(1985, 7, 15), False)]
        )
    household = eligibility.register_household(
        region="CN-FS",
        rent_subsidy=RentSubsidy(Decimal("650.00"), date(2021, 3, 1)),
        members=[MemberInput(ID_1, date(1985, 7, 15), False)],
    )
    loaded = eligibility.household(household.id)
    assert loaded.rent_subsidy == RentSubsidy(Decimal("650.00"), date(2021, 3, 1), None)
    assert loaded.estate is None and loaded.housing == "rent_subsidy"


# -- over NATS, to the services that follow households --------------------------------------------------


async def test_a_rent_subsidy_household_over_nats_to_penalties_resettlement_and_training(
    nats_server: NatsServer, tmp_path: Path, persistence: dict[str, str], clock: Clock
) -> None:
    install(clock)  # the four services of this process date things by the test's day (its facts' day)
    nc = await connect(nats_server.url, "test", identity="admin")
    await ensure_streams(nc.jetstream())
    await nc.close()
    sqlite = {"PERSISTENCE_MODULE": "eventsourcing.sqlite"}
    common: dict[str, Any] = {
        "nats_url": nats_server.url,
        "inbox_max_deliver": 2,
        "inbox_retry_backoff_s": 0.05,
    }
    eligibility_api, eligibility = build(
        EligibilitySettings(var_dir=tmp_path / "eligibility", **common), persistence
    )
    penalties_api, _ = build_penalties(PenaltiesSettings(var_dir=tmp_path / "penalties", **common), sqlite)
    resettlement_api, _ = build_resettlement(
        ResettlementSettings(var_dir=tmp_path / "resettlement", **common), sqlite
    )
    training_api, _ = build_training(TrainingSettings(var_dir=tmp_path / "training", **common), sqlite)
    assert isinstance(eligibility, EligibilityApp)
    runtimes: list[Runtime] = [
        api.state.runtime for api in (eligibility_api, penalties_api, resettlement_api, training_api)
    ]
    penalties, resettlement, training = (r.app for r in runtimes[1:])
    assert isinstance(penalties, PenaltiesApp) and isinstance(resettlement, ResettlementApp)
    assert isinstance(training, TrainingApp)
    for runtime in runtimes:
        await runtime.start()
    try:
        household = await asyncio.to_thread(
            lambda: eligibility.register_household(
                region="CN-FS",
                rent_subsidy=RentSubsidy(Decimal("650.00"), date(2021, 3, 1), "Nanhai"),
                members=[
                    MemberInput(ID_1, date(1985, 7, 15), False),
                    MemberInput(ID_2, date(2015, 3, 1), True),
                ],
                reference="R000001",
            )
        )
        registered = await read_stream(
            nats_server.url, "ELIGIBILITY", "housing.eligibility.rent-subsidy-registered", 1
        )
        assert [r["subject"] for r in registered] == [str(household.id)]
        assert registered[0]["data"]["monthly_subsidy"] == "650.00"
        assert registered[0]["data"]["district"] == "Nanhai"
        assert ID_1 not in json.dumps(registered)
        # no `household-registered`: that event says "holds a unit", which monitoring watches doors of
        tenancies = await read_stream(
            nats_server.url, "ELIGIBILITY", "housing.eligibility.household-registered", 1, timeout=1.0
        )
        assert tenancies == []

        case_id = await asyncio.to_thread(lambda: exit_case(eligibility, household.id))
        await asyncio.to_thread(
            lambda: eligibility.record_finding(
                case_id,
                REVIEWER,
                findings="income over the threshold for a year",
                proposed_outcome="exit_required",
                reason_code="INCOME",
                low_income=False,
                wants_to_buy=False,
            )
        )
        await asyncio.to_thread(lambda: eligibility.approve(case_id, SUPERVISOR, "agreed"))
        decided = await read_stream(nats_server.url, "ELIGIBILITY", "housing.eligibility.exit-decided", 1)
        assert [d["subject"] for d in decided] == [str(household.id)]
        last = await asyncio.to_thread(lambda: eligibility.process_recorder.max_notification_id() or 0)
        assert last > 0

        def every_follower_past_the_exit() -> bool:
            stream_end = len(registered) + len(decided)  # at least the two events followed here
            return all(
                app.position("inbox:ELIGIBILITY") >= stream_end for app in (penalties, resettlement, training)
            )

        await wait_for(every_follower_past_the_exit)
        await wait_for(lambda: referred(training, household.id) >= 1)

        # penalties: no tenancy, no rent ledger; the exit decision acknowledged, not dead-lettered
        assert penalties.repository.get(RentSubsidyHousehold.create_id(household.id)).region == "CN-FS"
        with pytest.raises(Exception):  # noqa: B017 (AggregateNotFoundError or its subclass)
            penalties.repository.get(Tenancy.create_id(household.id))
        dead = await read_stream(nats_server.url, "DEADLETTER", "housing.deadletter.>", 1, timeout=1.0)
        assert dead == []
        # resettlement: members known, the exit classified under the rent-subsidy "estate"
        kept: Any = resettlement.repository.get(household.id)
        assert isinstance(kept, ResettlementHousehold) and kept.estate == RENT_SUBSIDY_ESTATE
        assert kept.members is not None and len(kept.members) == 2
        placement: Any = resettlement.repository.get(PlacementCase.create_id(household.id))
        assert isinstance(placement, PlacementCase) and placement.estate == RENT_SUBSIDY_ESTATE
        # training: the working-age member referred, the child not
        followed: Any = training.repository.get(household.id)
        assert isinstance(followed, TrainingHousehold) and followed.estate == RENT_SUBSIDY_ESTATE
        assert referred(training, household.id) == 1
    finally:
        for runtime in reversed(runtimes):
            await runtime.stop()
        eligibility.close()


def exit_case(eligibility: EligibilityApp, household_id: UUID) -> UUID:
    """An income fact over the threshold: the review case it opens."""
    from contracts.department import DepartmentFactReported

    report = DepartmentFactReported.model_validate(fact(str(household_id), "MZ-9", income("8000.00")))
    assert eligibility.ingest([report]) == ["recorded"]
    household = eligibility.household(household_id)
    assert isinstance(household, Household) and household.open_case is not None
    assert isinstance(eligibility.case(household.open_case), ReviewCase)
    return household.open_case


def referred(training: TrainingApp, household_id: UUID) -> int:
    """Referrals training made for the household's members."""
    try:
        household: Any = training.repository.get(household_id)
    except Exception:  # not there yet
        return 0
    count = 0
    for member in household.members:
        try:
            referral: Any = training.repository.get(Referral.create_id(member["member_id"]))
        except Exception:  # no referral for this member
            continue
        count += isinstance(referral, Referral)
    return count
