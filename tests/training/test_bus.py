"""The whole path on a real nats-server: eligibility's household and exit decision on NATS → referrals
of the members of working age; an operator enrols one over HTTP; the human-resources department's
employment fact on NATS → the trainee's employment; an appeal that keeps the household → the other
referral withdrawn; and every step published on the TRAINING stream as a contract event."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from pydantic import BaseModel

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.training import EmploymentRecorded, ReferralMade, TraineeEnrolled
from services.kit import clock
from services.kit.bus import connect, ensure_streams
from services.kit.codec import Outgoing, decode, encode
from services.kit.settings import REPO_ROOT
from services.training.application import TrainingApp
from services.training.service import build
from services.training.settings import TrainingSettings
from tests.support.nats import NatsServer
from tests.training.conftest import (
    OPERATOR,
    READER,
    Clock,
    appeal,
    at,
    employment_fact,
    exit_decided,
    household,
)


async def eventually(predicate: Callable[[], Any], message: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.05)


async def publish(js: JetStreamContext, type_: str, subject_id: str, payload: BaseModel) -> None:
    spec = EVENTS_BY_TYPE[(type_, 1)]
    data = encode(
        Outgoing(spec, subject_id, payload), event_id=str(uuid4()), source="/test", time=clock.now()
    )
    await js.publish(spec.subject_of(payload), data, headers={"Nats-Msg-Id": f"test:{uuid4()}"})


async def read_stream(js: JetStreamContext, stream: str, expected: int) -> list[bytes]:
    sub = await js.pull_subscribe(
        "housing.training.>", stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    )
    found: list[bytes] = []
    for _ in range(60):
        try:
            for msg in await sub.fetch(max(expected - len(found), 1), timeout=0.5):
                found.append(msg.data)
                await msg.ack()
        except TimeoutError:
            pass
        if len(found) >= expected:
            break
    await sub.unsubscribe()
    return found


async def test_exit_decision_through_nats_to_referrals_enrolment_employment_and_events_out(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    h = household(ages=(45, 30, 12, 70))
    adult, young = h.members[0].member_id, h.members[1].member_id
    hid = str(h.household_id)
    await publish(js, "housing.eligibility.household-registered", hid, h)
    await publish(js, "housing.eligibility.exit-decided", hid, exit_decided(h.household_id))

    settings = TrainingSettings(nats_url=nats_server.url, var_dir=tmp_path)
    manual = Clock(datetime(2027, 2, 15, 9, 0, tzinfo=UTC))  # after the decision: time is the test's
    app = TrainingApp(
        settings,
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "t.db")},
        clock=manual,
    )
    assert app.seed_courses(REPO_ROOT / "infra" / "training" / "courses.yaml") == 4
    api, runtime = build(settings, app=app)
    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", auth=READER) as client:

            async def referrals(state: str) -> list[dict[str, Any]]:
                found: list[dict[str, Any]] = (
                    await client.get("/referrals", params={"state": state})
                ).json()["items"]
                return found

            async def two_open() -> bool:
                return len(await referrals("open")) == 2

            await eventually(two_open, "referrals of the two members of working age")
            by_member = {r["member_id"]: r["referral_id"] for r in await referrals("open")}
            assert set(by_member) == {str(adult), str(young)}

            (electrician,) = [c for c in (await client.get("/courses")).json() if c["title"] == "Electrician"]
            enrolled = await client.post(
                f"/courses/{electrician['course_id']}/enrolments",
                json={"referral_id": by_member[str(adult)]},
                headers=OPERATOR,
            )
            assert enrolled.json()["status"] == "enrolled"

            at(manual, date(2027, 5, 20))  # the job (from 15 May) has begun
            await publish(js, "housing.department.fact-reported", hid, employment_fact(h.household_id))
            await publish(js, "housing.eligibility.appeal-resolved", hid, appeal(h.household_id))

            async def settled() -> bool:
                return len(await referrals("withdrawn")) == 1 and bool(
                    (await client.get(f"/referrals/{by_member[str(adult)]}")).json()["employment"]
                )

            await eventually(settled, "the employment and the withdrawal")
            assert (await referrals("withdrawn"))[0]["member_id"] == str(young)

        published = [decode(data) for data in await read_stream(js, "TRAINING", expected=9)]
        assert Counter(spec.name for _, spec, _ in published) == {
            "course-scheduled": 4,
            "referral-made": 2,
            "trainee-enrolled": 1,
            "employment-recorded": 1,
            "referral-withdrawn": 1,
        }
        about_household = [
            (envelope, payload) for envelope, spec, payload in published if spec.name != "course-scheduled"
        ]
        assert {envelope.subject for envelope, _ in about_household} == {hid}
        made = [p for _, p in about_household if isinstance(p, ReferralMade)]
        assert {(p.source, p.estate) for p in made} == {("exit_decision", h.estate)}
        (seat,) = [p for _, p in about_household if isinstance(p, TraineeEnrolled)]
        assert (seat.member_id, seat.course_code) == (adult, electrician["code"])
        (job,) = [p for _, p in about_household if isinstance(p, EmploymentRecorded)]
        assert (job.member_id, job.verified_by) == (adult, "human_resources")
    finally:
        await runtime.stop()
        await nc.close()
