"""The eligibility service through its HTTP API, on SQLite and PostgreSQL: registration, batch intake
(idempotent, per-line problems), decisions, dated parameters, the four-eyes re-review, third-party
assessment, appeal, reviewer reports and what-if."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import httpx

from services.eligibility import identity
from services.eligibility.application import EligibilityApp
from services.eligibility.settings import DEV_PERSON_HASH_KEY
from tests.eligibility.conftest import Clock
from tests.support.identity import ANONYMOUS, as_operator

TODAY = "2026-11-27"
ID_1 = "440604198507151234"
ID_2 = "44060420100301002X"
REVIEWER = as_operator("reviewer.li", "reviewer", "eligibility")
SUPERVISOR = as_operator("supervisor.chen", "supervisor", "eligibility")


def household_body(*ids: str, region: str = "CN-FS", estate: str = "Chancheng Garden") -> dict[str, Any]:
    return {
        "region": region,
        "estate": estate,
        "building": "3",
        "unit": "1204",
        "base_rent": "680.00",
        "tenancy_start": "2019-05-01",
        "members": [{"id_number": i, "birth_date": "1985-07-15", "disabled": False} for i in ids],
    }


def fact(household_id: str, reference: str, kind: dict[str, Any], **extra: Any) -> dict[str, Any]:
    department = {"income": "civil_affairs", "financial_assets": "finance", "property": "real_estate"}
    return {
        "department": extra.pop("department", department.get(kind["kind"], "tax")),
        "reference": reference,
        "described_on": extra.pop("described_on", TODAY),
        "household_id": household_id,
        "fact": kind,
        **extra,
    }


def income(amount: str) -> dict[str, Any]:
    return {"kind": "income", "monthly_income": amount}


def assets(amount: str) -> dict[str, Any]:
    return {"kind": "financial_assets", "amount": amount}


async def register(client: httpx.AsyncClient, *ids: str, **kw: Any) -> dict[str, Any]:
    response = await client.post("/households", json=household_body(*ids, **kw))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def facts(client: httpx.AsyncClient, *lines: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/facts", json=list(lines))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def failing_household(client: httpx.AsyncClient, id_number: str = ID_1) -> tuple[str, str]:
    """A household whose income just crossed the threshold: (household id, review case id)."""
    household = (await register(client, id_number))["household_id"]
    await facts(client, fact(household, f"inc-{household}", income("4200.00")))
    case = (await client.get(f"/households/{household}")).json()["open_case"]
    assert case is not None
    return household, case


# -- households ----------------------------------------------------------------------------------------


async def test_registration_hashes_id_numbers_and_never_returns_them(client: httpx.AsyncClient) -> None:
    response = await client.post("/households", json=household_body(ID_1, ID_2.lower()))
    assert response.status_code == 201
    assert ID_1 not in response.text and ID_2 not in response.text
    members = response.json()["members"]
    assert members[0]["person_hash"] == identity.person_hash(ID_1, DEV_PERSON_HASH_KEY)
    assert members[1]["person_hash"] == identity.person_hash(ID_2, DEV_PERSON_HASH_KEY)  # normalised
    assert members[0]["id_number_masked"] == "4406**********1234"

    again = await client.post("/households", json=household_body(ID_1))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_member_changes_keep_member_ids_and_free_those_who_left(client: httpx.AsyncClient) -> None:
    household = await register(client, ID_1, ID_2)
    kept = household["members"][0]["member_id"]
    response = await client.put(
        f"/households/{household['household_id']}/members",
        json={"members": [{"id_number": ID_1, "birth_date": "1985-07-15", "disabled": True}]},
    )
    assert response.status_code == 200
    assert [m["member_id"] for m in response.json()["members"]] == [kept]
    assert response.json()["members"][0]["disabled"] is True
    # the member who left may now join another household
    await register(client, ID_2)


async def test_an_invalid_id_number_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/households", json=household_body("12345678901234567A"))
    assert response.status_code == 422  # invalid input, not a state the household is in
    assert response.json()["errors"][0]["location"] == "body.members.0.id_number"
    assert "12345678901234567A" not in response.text


# -- intake ----------------------------------------------------------------------------------------------


async def test_a_batch_keeps_valid_lines_and_names_line_and_field_of_invalid_ones(
    client: httpx.AsyncClient,
) -> None:
    household = (await register(client, ID_1))["household_id"]
    lines = [
        fact(household, "ok-1", income("3000.00")),
        fact(household, "bad-money", {"kind": "income", "monthly_income": 3000.5}),
        {k: v for k, v in fact(household, "x", assets("1.00")).items() if k != "reference"},
        fact(household, "ok-2", assets("1000.00")),
    ]
    response = await client.post("/facts", json=lines)
    assert response.status_code == 200
    body = response.json()
    assert (body["received"], body["recorded"], body["rejected"]) == (4, 2, 2)
    assert [(r["line"], r["status"]) for r in body["results"]] == [(1, "recorded"), (4, "recorded")]
    problems = {(p["line"], p["field"]) for p in body["problems"]}
    assert (2, "fact.income.monthly_income") in problems
    assert (3, "reference") in problems
    assert all(p["status"] == 422 and p["title"] for p in body["problems"])
    decision = (await client.get(f"/households/{household}")).json()["decision"]
    assert decision["outcome"] == "qualifies"


async def test_ndjson_batches_and_lines_that_are_not_json(client: httpx.AsyncClient) -> None:
    household = (await register(client, ID_1))["household_id"]
    body = "\n".join(
        [
            json.dumps(fact(household, "n-1", income("3000.00"))),
            "{not json",
            "",
            json.dumps(fact(household, "n-2", assets("10.00"))),
        ]
    )
    response = await client.post("/facts", content=body, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 200
    answer = response.json()
    assert [(r["line"], r["status"]) for r in answer["results"]] == [(1, "recorded"), (4, "recorded")]
    assert [(p["line"], p["field"]) for p in answer["problems"]] == [(2, "(line)")]


async def test_a_batch_with_no_valid_line_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/facts", json=[{"department": "nobody"}])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert {p["line"] for p in response.json()["problems"]} == {1}


async def test_intake_is_idempotent_per_department_and_reference(
    client: httpx.AsyncClient, eligibility: EligibilityApp
) -> None:
    household = (await register(client, ID_1))["household_id"]
    batch = [fact(household, "same", income("3000.00")), fact(household, "fin", assets("5.00"))]
    first = await facts(client, *batch)
    version = (await client.get(f"/households/{household}")).json()["version"]
    second = await facts(client, *batch, fact(household, "same", income("9999.00")))
    assert first["recorded"] == 2
    assert (second["recorded"], second["duplicates"]) == (0, 3)
    after = (await client.get(f"/households/{household}")).json()
    assert after["version"] == version
    assert after["decision"]["outcome"] == "qualifies"
    # the same reference from another department is another fact
    other = await facts(client, fact(household, "same", income("3000.00"), department="tax"))
    assert other["recorded"] == 1


async def test_a_fact_about_a_person_finds_the_household(client: httpx.AsyncClient) -> None:
    household = await register(client, ID_1, ID_2)
    person = household["members"][1]["person_hash"]
    line = fact(household["household_id"], "by-person", assets("250000.00"))
    line["household_id"] = None
    line["person_hash"] = person
    ghost = {**line, "reference": "ghost", "person_hash": None, "household_id": str(uuid4())}
    answer = await facts(client, line, ghost)
    assert [r["status"] for r in answer["results"]] == ["recorded", "unmatched"]
    view = (await client.get(f"/households/{household['household_id']}")).json()
    member_id = household["members"][1]["member_id"]
    assert view["facts"]["financial_assets"][member_id][0]["value"] == "250000.00"
    assert view["decision"]["outcome"] == "exit_triggered"


async def test_a_fact_about_a_person_not_yet_housed_waits_for_their_household(
    client: httpx.AsyncClient,
) -> None:
    person = identity.person_hash(ID_2, DEV_PERSON_HASH_KEY)
    early = {**fact("", "early", assets("250000.00")), "household_id": None, "person_hash": person}
    first = await facts(client, early)
    assert (first["parked"], first["results"][0]["status"]) == (1, "parked")
    assert (await facts(client, early))["duplicates"] == 1  # received once, whatever is resent

    clerk = as_operator("clerk.wu", "admin", "eligibility")
    response = await client.post("/households", json=household_body(ID_1, ID_2), headers=clerk)
    household = response.json()
    member_id = household["members"][1]["member_id"]
    assert household["registered_by"] == "clerk.wu"
    assert household["facts"]["financial_assets"][member_id][0]["reference"] == "early"
    assert household["decision"]["outcome"] == "exit_triggered"
    assert household["open_case"] is not None


# -- decisions and dated parameters --------------------------------------------------------------------------


async def test_every_fact_re_evaluates_and_explains(client: httpx.AsyncClient, clock: Clock) -> None:
    household = (await register(client, ID_1))["household_id"]
    await facts(client, fact(household, "i1", income("3960.00")))
    first = (await client.get(f"/households/{household}")).json()["decision"]
    assert first["outcome"] == "needs_manual"  # financial assets not reported yet
    await facts(client, fact(household, "f1", assets("200000.00")))
    second = (await client.get(f"/households/{household}")).json()
    assert second["decision"]["outcome"] == "qualifies"
    assert second["open_case"] is None
    clock.now += timedelta(days=1)
    await facts(client, fact(household, "i2", income("3960.01"), described_on="2026-11-28"))
    third = (await client.get(f"/households/{household}")).json()
    assert third["decision"]["outcome"] == "exit_triggered"
    income_rule = third["decision"]["rules"][0]
    assert income_rule["observed"] == "3960.01" and income_rule["threshold"] == "3960.00"
    assert income_rule["sources"] == [
        {"department": "civil_affairs", "reference": "i2", "described_on": "2026-11-28"}
    ]
    assert third["open_case"] is not None


async def test_supervisors_add_dated_values_and_decisions_use_the_one_in_force(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    value = {
        "region": "CN-FS",
        "effective_from": "2026-12-01",
        "value": "4300.00",
        "legal_reference": "Foshan notice 2026/11",
        "reason": "annual adjustment",
    }
    refused = await client.post("/parameters/income_per_capita/values", json=value, headers=REVIEWER)
    assert refused.status_code == 403
    added = await client.post("/parameters/income_per_capita/values", json=value, headers=SUPERVISOR)
    assert added.status_code == 201
    assert added.json()["added_by"] == "supervisor.chen"
    again = await client.post("/parameters/income_per_capita/values", json=value, headers=SUPERVISOR)
    assert again.status_code == 409

    before = (await client.get("/parameters", params={"region": "CN-FS", "on": "2026-11-30"})).json()
    on_day = (await client.get("/parameters", params={"region": "CN-FS", "on": "2026-12-01"})).json()
    assert before["values"]["income_per_capita"]["value"] == "3960.00"
    assert on_day["values"]["income_per_capita"]["value"] == "4300.00"
    history = (await client.get("/parameters/history", params={"rule": "income_per_capita"})).json()
    assert [h["value"] for h in history] == ["3960.00", "4300.00"]

    household = (await register(client, ID_1))["household_id"]
    clock.now = clock.now.replace(day=30)
    await facts(client, fact(household, "a", assets("1.00")), fact(household, "i", income("4100.00")))
    assert (await client.get(f"/households/{household}")).json()["decision"]["outcome"] == "exit_triggered"
    clock.now = clock.now.replace(month=12, day=1)
    await facts(client, fact(household, "i-dec", income("4100.00"), described_on="2026-12-01"))
    view = (await client.get(f"/households/{household}")).json()
    assert view["decision"]["outcome"] == "qualifies"
    assert view["decision"]["rules"][0]["legal_reference"] == "Foshan notice 2026/11"


async def test_a_second_region_is_decided_on_its_own_values(client: httpx.AsyncClient) -> None:
    household = (await register(client, ID_1, region="CN-GZ", estate="Tianhe"))["household_id"]
    await facts(client, fact(household, "i", income("4100.00")), fact(household, "f", assets("1.00")))
    decision = (await client.get(f"/households/{household}")).json()["decision"]
    assert decision["outcome"] == "needs_manual"  # no Guangzhou values yet: never decided on Foshan's
    queue = (await client.get("/households", params={"outcome": "needs_manual"})).json()["items"]
    assert [(h["household_id"], h["region"]) for h in queue] == [(household, "CN-GZ")]
    assert {r["status"] for r in decision["rules"]} == {"no_parameter"}
    guangzhou = [("income_per_capita", "4500.00"), ("housing_area", "40.00"), ("financial_assets", "300000")]
    for rule, amount in guangzhou:
        body = {"region": "CN-GZ", "effective_from": "2026-01-01", "value": amount, "legal_reference": "GZ"}
        response = await client.post(f"/parameters/{rule}/values", json=body, headers=SUPERVISOR)
        assert response.status_code == 201
    flat = {"kind": "property", "area_m2": "50.00", "city": "CN-FS", "property_ref": "FS-RE-1"}
    await facts(client, fact(household, "i2", income("4100.00"), described_on="2026-11-26"))
    assert (await client.get(f"/households/{household}")).json()["decision"]["outcome"] == "qualifies"
    await facts(client, fact(household, "p", flat))
    decision = (await client.get(f"/households/{household}")).json()["decision"]
    assert decision["outcome"] == "exit_triggered"  # 50 m² is within Foshan's 60, not Guangzhou's 40
    assert decision["rules"][1]["threshold"] == "40.00"


# -- manual re-review ----------------------------------------------------------------------------------------


async def test_four_eyes_cannot_be_bypassed(client: httpx.AsyncClient) -> None:
    household, case = await failing_household(client)
    proposed = await client.post(
        f"/cases/{case}/findings",
        json={
            "findings": "income confirmed by payslips",
            "proposed_outcome": "exit_required",
            "reason_code": "INC",
        },
        headers=SUPERVISOR,
    )
    assert proposed.status_code == 200 and proposed.json()["status"] == "proposed"
    same_person = await client.post(f"/cases/{case}/approval", json={"reason": "ok"}, headers=SUPERVISOR)
    assert same_person.status_code == 403
    assert same_person.json()["title"] == "Four-eyes principle"
    not_a_supervisor = await client.post(f"/cases/{case}/approval", json={"reason": "ok"}, headers=REVIEWER)
    assert not_a_supervisor.status_code == 403
    other = as_operator("supervisor.wang", "supervisor", "eligibility")
    approved = await client.post(f"/cases/{case}/approval", json={"reason": "agreed"}, headers=other)
    assert approved.status_code == 200
    body = approved.json()
    assert body["status"] == "decided" and body["final_outcome"] == "exit_required"
    trail = [(s["action"], s["actor"], s["role"]) for s in body["trail"]]
    assert trail == [
        ("opened", "system", "system"),
        ("finding", "supervisor.chen", "supervisor"),
        ("approved", "supervisor.wang", "supervisor"),
    ]
    assert (await client.get(f"/households/{household}")).json()["open_case"] is None
    anonymous = await client.post(f"/cases/{case}/approval", json={"reason": "x"}, auth=ANONYMOUS)
    assert anonymous.status_code == 401
    made_up = {"X-Operator-Id": "supervisor.zhou", "X-Operator-Role": "supervisor"}  # not read any more
    spoofed = await client.post(
        f"/cases/{case}/approval", json={"reason": "x"}, headers=made_up, auth=ANONYMOUS
    )
    assert spoofed.status_code == 401 and spoofed.headers["www-authenticate"].startswith("Bearer")


async def test_send_back_assessment_appeal_and_the_reviewer_report(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    home, case = await failing_household(client)
    finding = {"findings": "income rose", "proposed_outcome": "exit_required", "reason_code": "INC"}
    await client.post(f"/cases/{case}/findings", json=finding, headers=REVIEWER)
    sent = await client.post(
        f"/cases/{case}/send-back", json={"reason": "check the bonus"}, headers=SUPERVISOR
    )
    assert sent.json()["status"] == "open"

    deadline = (date(2026, 11, 27) + timedelta(days=14)).isoformat()
    request = {"assessor_id": "assessor.zhao", "deadline": deadline, "reason": "complex income"}
    requested = await client.post(f"/cases/{case}/assessment-requests", json=request, headers=REVIEWER)
    assert requested.json()["status"] == "assessment"
    assert requested.json()["assessments"][0]["overdue"] is False
    clock.now += timedelta(days=15)
    assert (await client.get(f"/cases/{case}")).json()["assessments"][0]["overdue"] is True
    report = {"report": "income rose in stages", "recommendation": "transition"}
    wrong = as_operator("assessor.qian", "assessor", "eligibility")
    assert (
        await client.post(f"/cases/{case}/assessment-reports", json=report, headers=wrong)
    ).status_code == 403
    right = as_operator("assessor.zhao", "assessor", "eligibility")
    received = await client.post(f"/cases/{case}/assessment-reports", json=report, headers=right)
    assert received.json()["status"] == "open"
    assert received.json()["assessments"][0]["recommendation"] == "transition"

    clock.now += timedelta(hours=2)
    transition = {**finding, "proposed_outcome": "transition", "reason_code": "STAGED", "low_income": True}
    await client.post(f"/cases/{case}/findings", json=transition, headers=REVIEWER)
    decided = await client.post(f"/cases/{case}/approval", json={"reason": "agreed"}, headers=SUPERVISOR)
    assert decided.json()["final_outcome"] == "transition"
    assert (await client.get(f"/households/{home}")).json()["open_case"] is None

    household = as_operator("household.a1", "household", "eligibility")
    clock.now += timedelta(days=10)
    appealed = await client.post(
        f"/cases/{case}/appeals", json={"reason": "income fell again"}, headers=household
    )
    assert appealed.json()["status"] == "appealed"
    # the appeal makes the case the household's open case again: a new exit trigger meanwhile
    # does not open a second case beside it
    assert (await client.get(f"/households/{home}")).json()["open_case"] == case
    await facts(client, fact(home, f"more-{home}", income("9000.00"), described_on="2026-12-01"))
    assert (await client.get(f"/households/{home}")).json()["open_case"] == case
    second_reviewer = as_operator("reviewer.he", "reviewer", "eligibility")
    retain = {"findings": "new payslips", "proposed_outcome": "retain", "reason_code": "APPEAL"}
    await client.post(f"/cases/{case}/findings", json=retain, headers=second_reviewer)
    resolved = await client.post(f"/cases/{case}/approval", json={"reason": "upheld"}, headers=SUPERVISOR)
    assert resolved.json()["final_outcome"] == "retain"
    assert resolved.json()["appeals"][0]["overturned"] is True

    clock.now += timedelta(days=31)
    late = await client.post(f"/cases/{case}/appeals", json={"reason": "again"}, headers=household)
    assert late.status_code == 409

    report_li = (await client.get("/reviewers/reviewer.li/report")).json()
    assert report_li["cases_handled"] == 1
    assert report_li["proposals"] == 2
    assert report_li["overturned_on_approval"] == 1
    assert report_li["overturned_on_appeal"] == 1
    assert report_li["mean_seconds_to_finding"] is not None
    trail = (await client.get(f"/cases/{case}")).json()["trail"]
    assert [s["action"] for s in trail] == [
        "opened",
        "finding",
        "sent_back",
        "assessment_requested",
        "assessment_received",
        "finding",
        "approved",
        "appeal_lodged",
        "finding",
        "approved",
    ]
    assert all(s["at"] and s["actor"] and s["role"] for s in trail)


# -- what-if ------------------------------------------------------------------------------------------


async def test_what_if_counts_flips_by_estate_and_region_without_writing(
    client: httpx.AsyncClient, eligibility: EligibilityApp
) -> None:
    ids = ["440604198507151234", "440604198507152345", "440604198507153456"]
    households = {}
    for id_number, amount, estate in zip(
        ids, ["3500.00", "3900.00", "4100.00"], ["A", "B", "B"], strict=True
    ):
        household = (await register(client, id_number, estate=estate))["household_id"]
        await facts(
            client,
            fact(household, f"i-{household}", income(amount)),
            fact(household, f"f-{household}", assets("1")),
        )
        households[amount] = household
    written = eligibility.recorder.max_notification_id()

    stricter = {"on": TODAY, "values": [{"rule": "income_per_capita", "region": "CN-FS", "value": "3800.00"}]}
    answer = (await client.post("/what-if", json=stricter)).json()
    assert answer["households"] == 3
    assert list(answer["flips"]) == ["qualifies->exit_triggered"]
    flip = answer["flips"]["qualifies->exit_triggered"]
    assert flip["count"] == 1 and flip["households"] == [households["3900.00"]]
    assert flip["by_estate"] == {"B": 1} and flip["by_region"] == {"CN-FS": 1}

    looser = {"on": TODAY, "values": [{"rule": "income_per_capita", "region": "CN-FS", "value": "4200"}]}
    answer = (await client.post("/what-if", json=looser)).json()
    assert answer["flips"]["exit_triggered->qualifies"]["households"] == [households["4100.00"]]
    assert eligibility.recorder.max_notification_id() == written

    unknown = {"on": TODAY, "values": [{"rule": "nope", "region": "CN-FS", "value": "1"}]}
    assert (await client.post("/what-if", json=unknown)).status_code == 422


async def test_unknown_household_and_case_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"/households/{uuid4()}")).status_code == 404
    assert (await client.get(f"/cases/{uuid4()}")).status_code == 404


async def test_thousands_of_facts_in_one_ndjson_request(client: httpx.AsyncClient) -> None:
    households = [(await register(client, f"4406041985071{i:04d}X"))["household_id"] for i in range(1, 21)]
    lines = [
        json.dumps(fact(households[i % 20], f"bulk-{i}", income(f"{3000 + i % 1000}.00")))
        for i in range(2000)
    ]
    body = "\n".join(lines)
    headers = {"content-type": "application/x-ndjson"}
    first = (await client.post("/facts", content=body, headers=headers)).json()
    assert (first["received"], first["recorded"], first["rejected"]) == (2000, 2000, 0)
    again = (await client.post("/facts", content=body, headers=headers)).json()
    assert again["duplicates"] == 2000


async def test_a_department_corrects_itself_but_two_departments_can_conflict(
    client: httpx.AsyncClient,
) -> None:
    household = (await register(client, ID_1))["household_id"]
    await facts(client, fact(household, "f", assets("1.00")), fact(household, "i-1", income("4500.00")))
    await facts(client, fact(household, "i-2", income("3000.00")))  # civil affairs corrects its record
    view = (await client.get(f"/households/{household}")).json()
    assert view["decision"]["outcome"] == "qualifies"
    assert [o["reference"] for o in view["facts"]["income"]["household"]] == ["i-2"]
    await facts(client, fact(household, "t-1", income("3100.00"), department="tax"))
    decision = (await client.get(f"/households/{household}")).json()["decision"]
    assert decision["outcome"] == "needs_manual"
    assert decision["rules"][0]["status"] == "conflict"
    assert {s["reference"] for s in decision["rules"][0]["sources"]} == {"i-2", "t-1"}


# -- timeline and figures -------------------------------------------------------------------------------


async def test_the_timeline_tells_every_step_with_who_and_why(client: httpx.AsyncClient) -> None:
    home, case = await failing_household(client)
    finding = {"findings": "income rose", "proposed_outcome": "exit_required", "reason_code": "INC"}
    await client.post(f"/cases/{case}/findings", json=finding, headers=REVIEWER)
    await client.post(f"/cases/{case}/approval", json={"reason": "agreed"}, headers=SUPERVISOR)

    answer = await client.get(f"/households/{home}/timeline")
    assert answer.status_code == 200
    entries = answer.json()["entries"]
    summaries = [e["summary"] for e in entries]
    assert summaries[0].startswith("Household registered at Chancheng Garden")
    assert any(s.startswith("Income fact recorded from civil_affairs") for s in summaries)
    assert any(s.startswith("Automated review: exit_triggered") for s in summaries)
    proposed = next(e for e in entries if e["summary"].startswith("Reviewer proposed exit_required"))
    approved = next(e for e in entries if e["summary"] == "Supervisor approved: exit_required")
    assert (proposed["actor"], approved["actor"]) == ("reviewer.li", "supervisor.chen")
    assert approved["reason"] == "agreed"
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert {e["service"] for e in entries} == {"eligibility"}
    assert "4200" not in answer.text  # amounts stay on the household page, for roles that may see them
    assert (await client.get(f"/households/{uuid4()}/timeline")).json()["entries"] == []


async def test_figures_count_households_cases_and_overturns(client: httpx.AsyncClient) -> None:
    _, case = await failing_household(client)
    await register(client, ID_2)
    finding = {"findings": "income rose", "proposed_outcome": "exit_required", "reason_code": "INC"}
    await client.post(f"/cases/{case}/findings", json=finding, headers=REVIEWER)
    await client.post(f"/cases/{case}/send-back", json={"reason": "check"}, headers=SUPERVISOR)
    figures = (await client.get("/figures")).json()
    assert figures["households"] == 2
    assert figures["households_by_outcome"] == {"exit_triggered": 1, "none": 1}
    assert figures["households_under_review"] == 1
    assert (figures["proposals"], figures["proposals_sent_back"]) == (1, 1)
    await client.post(f"/cases/{case}/findings", json=finding, headers=REVIEWER)
    await client.post(f"/cases/{case}/approval", json={"reason": "ok"}, headers=SUPERVISOR)
    figures = (await client.get("/figures")).json()
    assert figures["final_outcomes"] == {"exit_required": 1}
    assert (figures["exit_decisions"], figures["households_under_review"]) == (1, 0)


# -- batch registration ---------------------------------------------------------------------------------


def subsidy_body(*ids: str, reference: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "region": "CN-FS",
        "district": "Nanhai",
        "monthly_subsidy": "650.00",
        "subsidy_start": "2021-03-01",
        "members": [{"id_number": i, "birth_date": "1985-07-15", "disabled": False} for i in ids],
    }
    if reference is not None:
        body["reference"] = reference
    return body


def id_number(n: int) -> str:
    """A distinct, well-formed ID number per `n`."""
    return f"44060419850715{n:04d}"


async def test_a_registration_batch_keeps_valid_lines_and_answers_each(client: httpx.AsyncClient) -> None:
    lines = [
        {**household_body(ID_1), "reference": "H000001"},
        {**household_body(ID_2), "estate": ""},  # invalid: an empty estate
        subsidy_body(id_number(3), reference="R000001"),
        {**household_body(id_number(4)), "monthly_subsidy": "10.00"},  # invalid: both kinds of housing
        subsidy_body(ID_1, reference="R000002"),  # refused: that person is in H000001's household
        subsidy_body(id_number(6)),  # no reference: registered, not idempotent
    ]
    response = await client.post("/registrations", json=lines)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["received"], body["registered"], body["duplicates"], body["rejected"]) == (6, 3, 0, 3)
    assert [(r["line"], r["status"], r["housing"]) for r in body["results"]] == [
        (1, "registered", "tenancy"),
        (3, "registered", "rent_subsidy"),
        (6, "registered", "rent_subsidy"),
    ]
    first = body["results"][0]
    assert first["reference"] == "H000001"
    assert first["members"][0]["person_hash"] == identity.person_hash(ID_1, DEV_PERSON_HASH_KEY)
    assert ID_1 not in response.text
    problems = {p["line"]: p for p in body["problems"]}
    assert set(problems) == {2, 4, 5}
    assert problems[2]["status"] == 422 and "estate" in problems[2]["field"]
    assert problems[4]["status"] == 422
    assert problems[5]["status"] == 409 and problems[5]["title"] == "Refused"
    assert first["household_id"] in problems[5]["detail"]
    # every household answered is in the store, with what its line said
    subsidised = (await client.get(f"/households/{body['results'][1]['household_id']}")).json()
    assert subsidised["reference"] == "R000001" and subsidised["estate"] is None
    assert subsidised["rent_subsidy"] == {
        "monthly_subsidy": "650.00",
        "start": "2021-03-01",
        "district": "Nanhai",
    }


async def test_a_registration_sent_again_with_its_reference_is_a_duplicate(client: httpx.AsyncClient) -> None:
    lines = [{**household_body(ID_1), "reference": "H000001"}, subsidy_body(ID_2, reference="R000001")]
    first = (await client.post("/registrations", json=lines)).json()
    assert first["registered"] == 2
    # the whole batch again (a client that lost the answer), and one of them once more in the same batch
    again = await client.post("/registrations", json=[*lines, lines[1]])
    assert again.status_code == 200
    body = again.json()
    assert (body["registered"], body["duplicates"], body["rejected"]) == (0, 3, 0)
    assert [r["household_id"] for r in body["results"]] == [
        *(r["household_id"] for r in first["results"]),
        first["results"][1]["household_id"],
    ]
    assert [r["members"] for r in body["results"][:2]] == [r["members"] for r in first["results"]]
    # the single registration with the same reference answers 200 with the household it made
    single = await client.post("/households", json={**household_body(ID_1), "reference": "H000001"})
    assert single.status_code == 200 and single.json()["household_id"] == first["results"][0]["household_id"]
    listed = (await client.get("/households", params={"limit": 1000})).json()
    assert len(listed["items"]) == 2 and listed["next"] is None


async def test_registration_batches_in_ndjson_with_lines_that_are_not_json(client: httpx.AsyncClient) -> None:
    lines = [json.dumps(subsidy_body(id_number(n), reference=f"R{n:06d}")) for n in range(150)]
    lines.insert(10, "{not json")
    response = await client.post(
        "/registrations",
        content="\n".join(lines) + "\n",
        headers={"content-type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["received"], body["registered"], body["rejected"]) == (151, 150, 1)
    assert body["problems"][0]["line"] == 11 and body["problems"][0]["field"] == "(line)"
    assert len({r["household_id"] for r in body["results"]}) == 150  # over several transactions
    figures = (await client.get("/figures")).json()
    assert "households" in json.dumps(figures)


async def test_a_registration_batch_with_no_valid_line_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/registrations", json=[{"region": "CN-FS"}, 3])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert {p["line"] for p in response.json()["problems"]} == {1, 2}
    assert (
        await client.post("/registrations", content=b"[", headers={"content-type": "application/json"})
    ).status_code == 400


async def test_facts_parked_for_people_registered_in_a_batch_are_recorded_there(
    client: httpx.AsyncClient,
) -> None:
    person = identity.person_hash(id_number(7), DEV_PERSON_HASH_KEY)
    parked = {
        "department": "civil_affairs",
        "reference": "MZ-early",
        "described_on": TODAY,
        "person_hash": person,
        "fact": income("9000.00"),
    }
    assert (await facts(client, parked))["parked"] == 1
    body = (await client.post("/registrations", json=[subsidy_body(id_number(7), reference="R7")])).json()
    household = (await client.get(f"/households/{body['results'][0]['household_id']}")).json()
    member = household["members"][0]["member_id"]
    assert household["facts"]["income"][member][0]["reference"] == "MZ-early"  # the member's own income
    assert household["decision"]["outcome"] == "exit_triggered" and household["open_case"] is not None
