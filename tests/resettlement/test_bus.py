"""The whole path through a real nats-server: eligibility's registration and exit decision arrive on the
ELIGIBILITY stream, the service (pools loaded from Foshan's file at start-up) classifies the household
and offers it a transitional unit, its relay publishes the classification and the offer on the
RESETTLEMENT stream; penalties' exit-completed (PENALTIES stream) then allows the move-in over HTTP;
an overturned appeal withdraws another case and frees its unit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import BaseModel

from contracts.catalogue import EventSpec
from services.kit import clock as kit_clock
from services.kit.bus import connect, ensure_streams
from services.kit.codec import Outgoing, encode
from services.resettlement.application import ResettlementApp
from services.resettlement.handlers import APPEAL_RESOLVED, EXIT_COMPLETED, EXIT_DECIDED, REGISTERED
from services.resettlement.service import build
from services.resettlement.settings import FOSHAN_POOLS, ResettlementSettings
from tests.resettlement.support import clock, decision, registration, small_pool
from tests.resettlement.test_lifecycle import appeal, exit_completed
from tests.support.identity import ANONYMOUS, OperatorAuth, as_operator
from tests.support.nats import NatsServer

OPERATOR = as_operator("officer-chen", "reviewer", "resettlement")


def message(spec: EventSpec, household: UUID, payload: BaseModel, event_id: str) -> bytes:
    return encode(
        Outgoing(spec, str(household), payload), event_id=event_id, source="/test", time=kit_clock.now()
    )


async def read_stream(url: str, stream: str, subject: str, until: int, timeout: float = 30.0) -> list[Any]:
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


async def eventually(check: Callable[[], Any], message: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.05)


async def test_an_exit_decision_through_nats_to_a_classification_and_a_move_in(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    elderly, appellant = uuid4(), uuid4()
    for n, (spec, household, payload) in enumerate(
        [
            (REGISTERED, elderly, registration(elderly, date(1955, 4, 1), date(1988, 1, 1))),
            (EXIT_DECIDED, elderly, decision(elderly)),
            (EXIT_DECIDED, appellant, decision(appellant, low_income=True)),
        ]
    ):
        await js.publish(
            spec.subject, message(spec, household, payload, f"e{n}"), headers={"Nats-Msg-Id": f"e{n}"}
        )

    settings = ResettlementSettings(
        nats_url=nats_server.url, var_dir=tmp_path, resettlement_pools_file=FOSHAN_POOLS
    )
    api, runtime = build(
        settings, {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "r.sqlite")}
    )
    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=api)
        reader = OperatorAuth("auditor.sun", "auditor", "resettlement")
        async with httpx.AsyncClient(transport=transport, base_url="http://r", auth=reader) as client:

            async def both_placed() -> bool:
                answers = [await client.get(f"/households/{h}/placement") for h in (elderly, appellant)]
                return all(a.status_code == 200 and a.json()["state"] == "offered" for a in answers)

            await eventually(both_placed, "both households classified and offered a unit")
            pools = {p["pool"]: p for p in (await client.get("/pools")).json()}
            assert pools["transitional"]["total"] == 86 and pools["affordable"]["total"] == 120
            assert pools["transitional"]["states"]["offered"] == 2

            placed = (await client.get(f"/households/{elderly}/placement")).json()
            assert placed["placement_class"] == "special_hardship" and placed["estate"] == "Chancheng Garden"
            assert any("aged 60 or more" in reason and ": yes" in reason for reason in placed["reasons"])

            # The relay published the classification and the offer, about the household.
            classified = await read_stream(
                nats_server.url, "RESETTLEMENT", "housing.resettlement.household-classified", 2
            )
            mine = [m for m in classified if m["subject"] == str(elderly)]
            assert len(mine) == 1 and mine[0]["data"]["placement_class"] == "special_hardship"
            offered = await read_stream(
                nats_server.url, "RESETTLEMENT", "housing.resettlement.unit-offered", 2
            )
            assert {m["data"]["unit_id"] for m in offered if m["subject"] == str(elderly)} == {
                placed["unit_id"]
            }

            case = placed["case_id"]
            # who acts is required: an assertion, not a header anyone can write
            made_up = {"X-Operator-Id": "officer-chen", "X-Operator-Role": "reviewer"}
            assert (
                await client.post(f"/cases/{case}/accept", headers=made_up, auth=ANONYMOUS)
            ).status_code == 401
            assert (await client.post(f"/cases/{case}/accept", headers=OPERATOR)).status_code == 200
            refused = await client.post(f"/cases/{case}/move-in", headers=OPERATOR)
            assert (
                refused.status_code == 409 and "handed its subsidised flat back" in refused.json()["detail"]
            )

            # Penalties records the hand-back: the move-in is now allowed.
            await js.publish(
                EXIT_COMPLETED.subject,
                message(EXIT_COMPLETED, elderly, exit_completed(elderly), "p1"),
                headers={"Nats-Msg-Id": "p1"},
            )

            async def moved_in() -> bool:
                answer = await client.post(f"/cases/{case}/move-in", headers=OPERATOR)
                return answer.status_code == 200

            await eventually(moved_in, "the move-in accepted after the hand-back")

            # An overturned appeal withdraws the other case and frees its unit.
            other_unit = (await client.get(f"/households/{appellant}/placement")).json()["unit_id"]
            overturned = appeal(appellant, "retain", overturned=True)
            await js.publish(
                APPEAL_RESOLVED.subject,
                message(APPEAL_RESOLVED, appellant, overturned, "e9"),
                headers={"Nats-Msg-Id": "e9"},
            )

            async def withdrawn() -> bool:
                answer = (await client.get(f"/households/{appellant}/placement")).json()
                return bool(answer["state"] == "withdrawn")

            await eventually(withdrawn, "the case withdrawn")
            units = (await client.get("/pools/transitional/units", params={"state": "free"})).json()["items"]
            assert other_unit in {u["unit_id"] for u in units} and len(units) == 85

            timeline = (await client.get(f"/households/{elderly}/timeline")).json()
            kinds = [entry["type"] for entry in timeline["entries"]]
            assert kinds[:3] == ["Household.Registered", "PlacementCase.Classified", "PlacementCase.Offered"]
            assert "Household.ExitCompleted" in kinds and kinds[-1] == "PlacementCase.MovedIn"
            traced = [e for e in timeline["entries"] if e["type"] == "PlacementCase.Classified"]
            assert traced[0]["reason"].startswith("low income (exit decision): no")
        withdrawals = await read_stream(
            nats_server.url, "RESETTLEMENT", "housing.resettlement.case-withdrawn", 1
        )
        assert withdrawals[0]["data"]["released_unit_id"] == other_unit
    finally:
        await runtime.stop()
        await nc.close()


async def test_the_periodic_sweep_expires_offers_and_passes_units_on(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    settings = ResettlementSettings(
        nats_url=nats_server.url, var_dir=tmp_path, resettlement_pools_file=None, expiry_sweep_s=0.1
    )
    time = clock()
    app = ResettlementApp(
        settings,
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "s.sqlite")},
        clock=time,
    )
    app.add_units(small_pool("transitional", 1))
    first, second = uuid4(), uuid4()
    app.exit_decided(decision(first, low_income=True))
    app.exit_decided(decision(second, low_income=True))
    assert (app.placement(first)["state"], app.placement(second)["state"]) == ("offered", "waitlisted")
    _, runtime = build(settings, app=app)
    time.now += timedelta(days=15)  # the offer's last day has passed
    await runtime.start()
    try:

        async def passed_on() -> bool:
            return bool(app.placement(second)["state"] == "offered")

        await eventually(passed_on, "the sweep to expire the offer and offer the unit to the next case")
        assert app.placement(first)["state"] == "waitlisted" and app.placement(first)["offers_lost"] == 1
    finally:
        await runtime.stop()
