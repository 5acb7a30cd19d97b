"""One employment fact by its id (`GET /employment-evidence/{id}`): what the gateway reads to check the
fact's estate before an attribution, instead of the whole list."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import httpx

from services.training.application import TrainingApp
from tests.training.conftest import OPERATOR, Clock, at, employment_fact, exit_decided, feed, household


async def test_one_employment_fact_by_id(
    training: TrainingApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    h = household(ages=(40, 20))
    feed(training, h)
    feed(training, exit_decided(h.household_id))
    referrals = [r["referral_id"] for r in (await client.get("/referrals")).json()["items"]]
    body = {
        "code": "welding-t9",
        "title": "Welding",
        "provider": "Foshan Vocational Skills Institute",
        "estate": "Nanhai Court",
        "capacity": 5,
        "sessions": [{"on": "2027-03-01", "topic": "safety"}],
    }
    course = (await client.post("/courses", json=body, headers=OPERATOR)).json()["course_id"]
    for referral_id in referrals:  # two trainees: a fact about the household is ambiguous
        enrolled = await client.post(
            f"/courses/{course}/enrolments", json={"referral_id": referral_id}, headers=OPERATOR
        )
        assert enrolled.status_code == 201, enrolled.text
    assert feed(training, employment_fact(h.household_id, reference="RS-7")) == "unmatched"
    assert feed(training, employment_fact(None, reference="RS-8", person_hash="cd" * 32)) == "unmatched"

    listed = {e["reference"]: e for e in (await client.get("/employment-evidence")).json()["items"]}
    for reference, estate in (("RS-7", "Chancheng Garden"), ("RS-8", None)):
        one = await client.get(f"/employment-evidence/{listed[reference]['evidence_id']}")
        assert one.status_code == 200 and one.json() == listed[reference]
        assert (one.json()["estate"], one.json()["state"]) == (estate, "unmatched")
    assert "cd" * 32 not in str(listed)

    evidence_id = listed["RS-7"]["evidence_id"]
    url = f"/employment-evidence/{evidence_id}/attribute"
    early = await client.post(url, json={"referral_id": referrals[1]}, headers=OPERATOR)
    assert early.status_code == 422  # the job (from 15 May) has not begun: no employment yet
    assert "start_date 2027-05-15" in early.json()["detail"]
    at(clock, date(2027, 5, 15))
    attributed = await client.post(url, json={"referral_id": referrals[1]}, headers=OPERATOR)
    assert attributed.status_code == 200
    after = (await client.get(f"/employment-evidence/{evidence_id}")).json()
    assert (after["state"], after["referral_id"]) == ("attributed", referrals[1])

    for unknown in (uuid4(), referrals[0], h.household_id):  # ids of other things are not facts
        missing = await client.get(f"/employment-evidence/{unknown}")
        assert missing.status_code == 404 and missing.json()["status"] == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/employment-evidence/RS-7")).status_code == 422

    operation = (await client.get("/openapi.json")).json()["paths"]["/employment-evidence/{evidence_id}"][
        "get"
    ]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EvidenceOut"
    }
    assert "application/problem+json" in operation["responses"]["404"]["content"]
