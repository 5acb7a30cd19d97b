"""Facts in time, invariants, one calendar and errors that help (issue 23).

- A fact describing a day after today (the city's date) is refused, 422 naming its line, and never
  replaces what is on record: a 2030 income once set aside every income before it and turned an
  `exit_triggered` household into `needs_manual`. On the bus it is dead-lettered (alone, in an export).
- A fact older than the record on file is kept in the history, does not replace it, and its line says
  which record still decides; the explanation names that record.
- Birth dates are not in the future; money in facts and registrations is a decimal string, never a
  JSON number; a malformed ID number is invalid input (422), not a refused state (409).
- Every date eligibility gives is the city's: a decision made at 23:30 UTC is dated with Foshan's
  next day, on the event and in the views.
- A batch whose every line is bad answers each line's reason; a line without `fact` says so; an
  unknown reviewer's report is 404.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported
from services.eligibility.application import EligibilityApp, MemberInput
from services.eligibility.handlers import FactHandler
from services.eligibility.service import build
from services.eligibility.settings import EligibilitySettings
from services.eligibility.translate import make_translator
from services.kit.bus import connect, ensure_streams
from services.kit.dating import DateRefused
from services.kit.runtime import Runtime
from tests.eligibility.conftest import Clock
from tests.eligibility.test_api import (
    ID_1,
    REVIEWER,
    SUPERVISOR,
    fact,
    facts,
    household_body,
    income,
    register,
)
from tests.eligibility.test_bus import read_stream, wait_for
from tests.eligibility.test_exports import FACTS_REPORTED, export
from tests.support.nats import NatsServer

FUTURE = "2030-01-01"


async def exit_triggered(client: httpx.AsyncClient) -> str:
    """A household over the income limit (4200 > 3960), with assets on record: `exit_triggered`."""
    home = str((await register(client, ID_1))["household_id"])
    await facts(
        client,
        fact(home, "MZ-1", income("4200.00"), described_on="2026-11-01"),
        fact(home, "CZ-1", {"kind": "financial_assets", "amount": "1000.00"}),
    )
    assert (await client.get(f"/households/{home}")).json()["decision"]["outcome"] == "exit_triggered"
    return home


def rule(decision: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in decision["rules"] if r["rule"] == name)
    return found


# -- facts in time -------------------------------------------------------------------------------------


async def test_a_fact_describing_the_future_is_refused_naming_its_line(client: httpx.AsyncClient) -> None:
    home = await exit_triggered(client)
    lines = [
        fact(home, "MZ-2", income("3000.00"), described_on=FUTURE),
        fact(home, "MZ-3", income("4300.00")),
    ]
    response = await client.post("/facts", json=lines)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["recorded"], body["rejected"]) == (1, 1)
    [problem] = body["problems"]
    assert (problem["line"], problem["field"], problem["status"]) == (1, "described_on", 422)
    assert "2030-01-01 lies in the future (today is 2026-11-27)" in problem["detail"]

    household = (await client.get(f"/households/{home}")).json()
    assert [f["reference"] for f in household["facts"]["income"]["household"]] == ["MZ-3"]
    assert household["decision"]["outcome"] == "exit_triggered"  # not needs_manual

    # a batch of future facts alone: 422, each line's reason, nothing recorded
    alone = await client.post("/facts", json=[fact(home, "MZ-4", income("1.00"), described_on=FUTURE)])
    assert alone.status_code == 422
    assert alone.json()["problems"][0]["field"] == "described_on"
    assert "line 1: described_on 2030-01-01 lies in the future" in alone.json()["detail"]


async def test_the_citys_today_is_not_the_future(client: httpx.AsyncClient, clock: Clock) -> None:
    clock.now = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # 01:00 on the 28th in Foshan
    home = str((await register(client, ID_1))["household_id"])
    answer = await facts(client, fact(home, "MZ-1", income("3000.00"), described_on="2026-11-28"))
    assert answer["recorded"] == 1
    refused = await client.post(
        "/facts", json=[fact(home, "MZ-2", income("1.00"), described_on="2026-11-29")]
    )
    assert refused.status_code == 422


def test_the_application_refuses_a_future_fact_too(eligibility: EligibilityApp) -> None:
    report = DepartmentFactReported.model_validate(
        {
            "department": "civil_affairs",
            "reference": "MZ-F",
            "described_on": FUTURE,
            "household_id": "6a2f41a3-c54b-4d8a-9a0f-1c2b3d4e5f60",
            "fact": {"kind": "income", "monthly_income": "1.00"},
        }
    )
    with pytest.raises(DateRefused):
        eligibility.ingest([report])
    handler = FactHandler(eligibility)
    assert "lies in the future" in (handler.refuse(report) or "")
    assert handler.refuse(report.model_copy(update={"described_on": eligibility.today()})) is None


async def test_an_older_fact_is_kept_in_history_and_the_newer_one_decides(client: httpx.AsyncClient) -> None:
    home = await exit_triggered(client)
    answer = await facts(client, fact(home, "MZ-0", income("2000.00"), described_on="2026-06-01"))
    [line] = answer["results"]
    assert line["status"] == "recorded"
    assert line["superseded_by"] == {
        "department": "civil_affairs",
        "reference": "MZ-1",
        "described_on": "2026-11-01",
    }
    household = (await client.get(f"/households/{home}")).json()
    assert [f["reference"] for f in household["facts"]["income"]["household"]] == ["MZ-1"]
    decision = household["decision"]
    assert decision["outcome"] == "exit_triggered"
    assert rule(decision, "income_per_capita")["sources"] == [
        {"department": "civil_affairs", "reference": "MZ-1", "described_on": "2026-11-01"}
    ]
    timeline = (await client.get(f"/households/{home}/timeline")).json()["entries"]
    assert any("MZ-0" in json.dumps(entry) for entry in timeline)  # in the history all the same

    newer = await facts(client, fact(home, "MZ-5", income("3000.00"), described_on="2026-11-20"))
    assert "superseded_by" not in newer["results"][0]
    decision = (await client.get(f"/households/{home}")).json()["decision"]
    assert rule(decision, "income_per_capita")["sources"][0]["reference"] == "MZ-5"


# -- invariants ----------------------------------------------------------------------------------------


async def test_a_member_born_in_the_future_is_refused(client: httpx.AsyncClient) -> None:
    body = household_body(ID_1)
    body["members"][0]["birth_date"] = FUTURE
    response = await client.post("/households", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.members.0.birth_date"

    batch = await client.post("/registrations", json=[body, household_body("44060420100301002X")])
    assert batch.status_code == 200
    [problem] = batch.json()["problems"]
    assert (problem["line"], problem["field"], problem["status"]) == (1, "members.0.birth_date", 422)
    assert batch.json()["registered"] == 1

    home = (await register(client, ID_1))["household_id"]
    members = {"members": [{"id_number": ID_1, "birth_date": FUTURE, "disabled": False}]}
    assert (await client.put(f"/households/{home}/members", json=members)).status_code == 422


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ({"kind": "income", "monthly_income": 4200}, "fact.income.monthly_income"),
        ({"kind": "financial_assets", "amount": 1000}, "fact.financial_assets.amount"),
        (
            {"kind": "property", "area_m2": 60, "city": "CN-FS", "property_ref": "P-1"},
            "fact.property.area_m2",
        ),
    ],
)
async def test_money_and_areas_in_facts_are_decimal_strings(
    client: httpx.AsyncClient, kind: dict[str, Any], field: str
) -> None:
    home = (await register(client, ID_1))["household_id"]
    department = {"income": "civil_affairs", "financial_assets": "finance"}.get(kind["kind"], "real_estate")
    response = await client.post("/facts", json=[fact(home, "X-1", kind, department=department)])
    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert problem["field"] == field and "not a number" in problem["detail"]


async def test_money_in_registrations_is_a_decimal_string(client: httpx.AsyncClient) -> None:
    body = {**household_body(ID_1), "base_rent": 680}
    response = await client.post("/households", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"].endswith("base_rent")


async def test_an_invalid_id_number_is_invalid_input(client: httpx.AsyncClient) -> None:
    response = await client.post("/households", json=household_body("12345678901234567A"))
    assert response.status_code == 422
    assert "12345678901234567A" not in response.text
    batch = await client.post("/registrations", json=[household_body("12345678901234567A")])
    assert batch.status_code == 422
    assert batch.json()["problems"][0]["field"] == "members.0.id_number"


# -- one calendar --------------------------------------------------------------------------------------


async def test_a_decision_at_2330_utc_carries_foshans_date(
    client: httpx.AsyncClient, eligibility: EligibilityApp, clock: Clock, tmp_path: Path
) -> None:
    clock.now = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # 07:30 on 7 December in Foshan
    foshan = "2026-12-07"
    home = str((await register(client, ID_1))["household_id"])
    await facts(client, fact(home, "MZ-1", income("4200.00"), described_on="2026-12-06"))
    household = (await client.get(f"/households/{home}")).json()
    assert household["decision"]["decided_on"] == foshan
    case = household["open_case"]
    finding = {"findings": "income rose", "proposed_outcome": "exit_required", "reason_code": "INC"}
    assert (await client.post(f"/cases/{case}/findings", json=finding, headers=REVIEWER)).status_code == 200
    approved = await client.post(f"/cases/{case}/approval", json={"reason": "agreed"}, headers=SUPERVISOR)
    assert approved.status_code == 200, approved.text

    translate = make_translator(EligibilitySettings(var_dir=tmp_path), EVENTS_BY_TYPE)
    dated: dict[str, Any] = {}
    for notification in eligibility.notification_log.select(start=1, limit=1000):
        for out in translate(eligibility.mapper.to_domain_event(notification)):
            dated[out.spec.name] = json.loads(out.payload.model_dump_json())
    assert dated["review-decided"]["decided_on"] == foshan
    assert dated["review-opened"]["opened_on"] == foshan
    assert dated["finding-recorded"]["recorded_on"] == foshan
    assert dated["review-confirmed"]["decided_on"] == foshan
    assert dated["exit-decided"]["decided_on"] == foshan  # penalties counts the notice from it


# -- errors that help ----------------------------------------------------------------------------------


async def test_a_batch_of_bad_lines_answers_every_line(client: httpx.AsyncClient) -> None:
    home = (await register(client, ID_1))["household_id"]
    without_fact = {k: v for k, v in fact(home, "A-1", income("1.00")).items() if k != "fact"}
    without_kind = {**fact(home, "A-2", income("1.00")), "fact": {"monthly_income": "1.00"}}
    future = fact(home, "A-3", income("1.00"), described_on=FUTURE)
    response = await client.post("/facts", json=[without_fact, without_kind, future])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["received"], body["recorded"], body["rejected"], body["results"]) == (3, 0, 3, [])
    assert [(p["line"], p["field"]) for p in body["problems"]] == [
        (1, "fact"),
        (2, "fact.kind"),
        (3, "described_on"),
    ]
    assert body["problems"][0]["detail"] == "fact is required"
    assert body["detail"].startswith("every line was rejected: line 1: fact is required; line 2: fact.kind")


async def test_an_unknown_reviewers_report_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/reviewers/nobody.here/report")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


# -- on the bus ----------------------------------------------------------------------------------------


async def test_on_the_bus_a_future_fact_is_dead_lettered_alone(
    nats_server: NatsServer, tmp_path: Path, persistence: dict[str, str]
) -> None:
    settings = EligibilitySettings(nats_url=nats_server.url, var_dir=tmp_path)
    nc = await connect(nats_server.url, "test-department", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    api, app = build(settings, persistence)
    runtime: Runtime = api.state.runtime
    assert isinstance(app, EligibilityApp)
    await runtime.start()
    try:

        def registered() -> UUID:
            return app.register_household(
                region="CN-FS",
                estate="Nanhai Court",
                building="1",
                unit="101",
                base_rent=Decimal("600.00"),
                tenancy_start=date(2020, 1, 1),
                members=[MemberInput(ID_1, date(1985, 7, 15), False)],
            ).id

        home = await asyncio.to_thread(registered)
        today = app.today()

        def line(reference: str, on: date, amount: Any = "4200.00") -> dict[str, Any]:
            return {
                "department": "civil_affairs",
                "reference": reference,
                "described_on": on.isoformat(),
                "household_id": str(home),
                "fact": {"kind": "income", "monthly_income": amount},
            }

        later = today + timedelta(days=2)
        data = export("export-t", [line("MZ-T1", today), line("MZ-T2", later), line("MZ-T3", today, 4200)])
        civil = FACTS_REPORTED.subject_for(department="civil_affairs")
        await js.publish(civil, data, headers={"Nats-Msg-Id": "export-t"})
        await wait_for(lambda: app.position("inbox:DEPARTMENT") == 1)
        # the inbox's commit is visible in the store a moment before the repository's cache has the
        # household it saved: wait for what the test reads, not for the tracking record alone
        await wait_for(lambda: "income" in app.household(home).facts)
        household = await asyncio.to_thread(app.household, home)
        assert [f.source.reference for f in household.facts["income"]["household"]] == ["MZ-T1"]
        [dead] = await read_stream(nats_server.url, "DEADLETTER", "housing.deadletter.eligibility", 1)
        assert dead["reason"].startswith("2 of 3 entries: ")
        assert "facts[1]: described_on" in dead["reason"] and "lies in the future" in dead["reason"]
        assert "facts[2]: " in dead["reason"] and "not a number" in dead["reason"]
    finally:
        await runtime.stop()
        await nc.close()
