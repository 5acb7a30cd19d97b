"""The full path through a real nats-server, on SQLite and PostgreSQL: a department publishes a fact,
eligibility's inbox records it and decides, its relay publishes the decision, the cross-region check
request and, after the four-eyes re-review, the exit decision, where a consumer reads them."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from nats.js.api import ConsumerConfig, DeliverPolicy

from contracts.department import DepartmentFactReported
from services.eligibility.application import Actor, EligibilityApp, MemberInput
from services.eligibility.service import build
from services.eligibility.settings import EligibilitySettings
from services.kit import clock
from services.kit.bus import connect, ensure_streams
from services.kit.codec import Outgoing, encode
from services.kit.runtime import Runtime
from tests.kit.sample import FACT_REPORTED
from tests.support.nats import NatsServer


def fact_message(reference: str, household: UUID, fact: dict[str, Any]) -> bytes:
    payload = DepartmentFactReported.model_validate(
        {
            "department": "civil_affairs",
            "reference": reference,
            "described_on": clock.now().date().isoformat(),
            "household_id": str(household),
            "fact": fact,
        }
    )
    out = Outgoing(FACT_REPORTED, str(household), payload)
    return encode(out, event_id=f"dept:{reference}", source="/departments/civil-affairs", time=clock.now())


async def read_stream(url: str, stream: str, subject: str, until: int, timeout: float = 30.0) -> list[Any]:
    """Every message of `subject` so far, waiting until there are at least `until`."""
    nc = await connect(url, "test-reader", identity="admin")
    sub = await nc.jetstream().pull_subscribe(
        subject, stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    )
    found: list[Any] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(found) < until and asyncio.get_running_loop().time() < deadline:
        try:
            for msg in await sub.fetch(100, timeout=0.5):
                found.append(json.loads(msg.data))
                await msg.ack()
        except TimeoutError:
            pass
    await nc.close()
    return found


async def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_fact_on_nats_becomes_a_decision_a_case_and_an_exit_on_nats(
    nats_server: NatsServer, tmp_path: Path, persistence: dict[str, str]
) -> None:
    settings = EligibilitySettings(
        nats_url=nats_server.url, var_dir=tmp_path, inbox_max_deliver=2, inbox_retry_backoff_s=0.05
    )
    nc = await connect(nats_server.url, "test-department", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    api, app = build(settings, persistence)
    runtime: Runtime = api.state.runtime
    assert isinstance(app, EligibilityApp)
    await runtime.start()
    try:
        household = await asyncio.to_thread(
            lambda: app.register_household(
                region="CN-FS",
                estate="Nanhai Court",
                building="1",
                unit="101",
                base_rent=Decimal("600.00"),
                tenancy_start=date(2020, 1, 1),
                members=[MemberInput("440604198507151234", date(1985, 7, 15), False)],
            )
        )
        income = {"kind": "income", "monthly_income": "4200.00"}
        data = fact_message("MZ-1", household.id, income)
        # the department sent it over HTTP first: the same fact on NATS, twice, is acknowledged and ignored
        report = DepartmentFactReported.model_validate(json.loads(data)["data"])
        assert await asyncio.to_thread(app.ingest, [report]) == ["recorded"]
        await js.publish(
            FACT_REPORTED.subject_for(department="civil_affairs"), data, headers={"Nats-Msg-Id": "dept:MZ-1"}
        )
        await js.publish(
            FACT_REPORTED.subject_for(department="civil_affairs"),
            data,
            headers={"Nats-Msg-Id": "dept:MZ-1-resent"},
        )
        # a poison fact: money as a float is not a contract event
        poison = json.loads(fact_message("MZ-2", household.id, income))
        poison["data"]["fact"]["monthly_income"] = 4200.5
        await js.publish(
            FACT_REPORTED.subject_for(department="civil_affairs"),
            json.dumps(poison).encode(),
            headers={"Nats-Msg-Id": "p"},
        )
        assets = fact_message("CZ-1", household.id, {"kind": "financial_assets", "amount": "100.00"})
        await js.publish(
            FACT_REPORTED.subject_for(department="civil_affairs"),
            assets,
            headers={"Nats-Msg-Id": "dept:CZ-1"},
        )

        await wait_for(lambda: app.position("inbox:DEPARTMENT") == 4)
        current = await asyncio.to_thread(app.household, household.id)
        assert current.outcome == "exit_triggered"
        assert current.facts["income"]["household"][0].source.reference == "MZ-1"
        assert current.open_case is not None

        decided = await read_stream(nats_server.url, "ELIGIBILITY", "housing.eligibility.review-decided", 2)
        assert [d["data"]["decision"] for d in decided] == ["exit_triggered", "exit_triggered"]
        assert all(d["subject"] == str(household.id) for d in decided)
        reasons = decided[0]["data"]["reasons"]
        assert reasons[0]["rule"] == "income_per_capita" and reasons[0]["triggered"] is True
        assert reasons[0]["observed"] == "4200.00" and "MZ-1" in reasons[0]["note"]
        checks = await read_stream(
            nats_server.url, "ELIGIBILITY", "housing.eligibility.cross-region-check-requested", 1
        )
        assert len(checks) == 1 and checks[0]["data"]["cities"] == ["CN-GZ", "CN-DG", "CN-ZS", "CN-ZQ"]
        registered = await read_stream(
            nats_server.url, "ELIGIBILITY", "housing.eligibility.household-registered", 1
        )
        assert "440604198507151234" not in json.dumps(registered)
        dead = await read_stream(nats_server.url, "DEADLETTER", "housing.deadletter.eligibility", 1)
        assert len(dead) == 1 and "monthly_income" in dead[0]["reason"]

        case_id = current.open_case
        await asyncio.to_thread(
            lambda: app.record_finding(
                case_id,
                Actor("reviewer.li", "reviewer"),
                findings="confirmed",
                proposed_outcome="transition",
                reason_code="STAGED",
                low_income=False,
                wants_to_buy=True,
            )
        )
        await asyncio.to_thread(
            lambda: app.approve(case_id, Actor("supervisor.chen", "supervisor"), "agreed")
        )
        exits = await read_stream(nats_server.url, "ELIGIBILITY", "housing.eligibility.exit-decided", 1)
        assert exits[0]["data"]["route"] == "transition" and exits[0]["data"]["wants_to_buy"] is True
        confirmed = await read_stream(
            nats_server.url, "ELIGIBILITY", "housing.eligibility.review-confirmed", 1
        )
        assert confirmed[0]["data"]["reviewer_id"] == "reviewer.li"
        assert confirmed[0]["data"]["approver_id"] == "supervisor.chen"
    finally:
        await runtime.stop()
        await nc.close()
