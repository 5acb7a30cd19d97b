"""On a real nats-server: what eligibility, a department and penalties publish reaches monitoring's
inboxes. A registration record and a transition decision show in a warning's evidence; the household's
exit, published by penalties, makes the register forget it and withdraws the warning."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import httpx
from pydantic import BaseModel

from contracts.department import DepartmentFactReported
from contracts.eligibility import ExitDecided
from contracts.spec import EventSpec
from services.kit import clock
from services.kit.bus import connect, ensure_streams
from services.kit.codec import Outgoing, encode
from services.monitoring.handlers import (
    DOOR_ACCESS,
    EXIT_COMPLETED,
    EXIT_DECIDED,
    FACT_REPORTED,
    REGISTERED,
)
from tests.monitoring.support import INSPECTOR, START, UNIT, days, door_signal, local
from tests.monitoring.test_bus import eventually, start
from tests.monitoring.test_exit import HANDED_BACK, exit_of
from tests.monitoring.test_warnings import registration
from tests.support.nats import NatsServer


def envelope(spec: EventSpec, subject: str, payload: BaseModel, event_id: str) -> bytes:
    return encode(Outgoing(spec, subject, payload), event_id=event_id, source="/test", time=clock.now())


async def test_an_exit_published_by_penalties_ends_monitoring_of_the_household(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    household, member = uuid4(), uuid4()
    subject = str(household)
    await js.publish(
        REGISTERED.subject, envelope(REGISTERED, subject, registration(household, [member]), "e-reg")
    )
    fact = DepartmentFactReported.model_validate(
        {
            "department": "public_security",
            "reference": "PS-2026-0042",
            "described_on": str(START),
            "household_id": subject,
            "fact": {"kind": "registration", "hukou_city": "CN-FS", "actual_residence_city": "CN-GZ"},
        }
    )
    await js.publish(
        FACT_REPORTED.subject_for(department="public_security"),
        envelope(FACT_REPORTED, subject, fact, "e-fact"),
    )
    decided = ExitDecided(
        household_id=household,
        review_id=uuid4(),
        route="transition",
        decided_on=START,
        low_income=False,
        wants_to_buy=False,
    )
    await js.publish(EXIT_DECIDED.subject, envelope(EXIT_DECIDED, subject, decided, "e-decided"))

    api, runtime, app = start(nats_server, tmp_path)
    await runtime.start()
    try:

        def known() -> bool:
            app.catch_up()
            view = app.register.households.get(household)
            return view is not None and bool(view.facts) and view.status == "exit_decided"

        await eventually(known, "the household with its record and decision")
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://m", auth=INSPECTOR) as client:
            enrolled = await client.post(
                "/credentials", json={"kind": "card", "credential_id": "c-1", "member_id": str(member)}
            )
            assert enrolled.status_code == 201
            evenings = [door_signal(UNIT, "tenant", local(day, 19)) for day in days(START, 30)]
            evenings += [door_signal(UNIT, "c-1", local(day, 10)) for day in days(START, 30, step=10)]
            await js.publish(DOOR_ACCESS.subject, json.dumps(evenings).encode())
            await eventually(lambda: bool(app.open_warnings()), "a sublet warning")
            (listed,) = (await client.get("/warnings")).json()["items"]
            assert listed["household_status"] == "exit_decided"  # in transition: still monitored
            detail = (await client.get(f"/warnings/{listed['warning_id']}")).json()
            labels = {e["label"]: e["value"] for e in detail["evidence"]}
            assert "actual residence CN-GZ" in labels["registration_record"]
            assert labels["exit_decided"] == f"transition on {START.isoformat()}"

            await js.publish(
                EXIT_COMPLETED.subject, envelope(EXIT_COMPLETED, subject, exit_of(household), "e-exit")
            )

            def forgotten() -> bool:
                app.catch_up()
                return UNIT not in app.register.by_unit and member not in app.register.member_household

            await eventually(forgotten, "the register to forget the household")
            detail = (await client.get(f"/warnings/{listed['warning_id']}")).json()
            assert (detail["status"], detail["closed_on"]) == ("withdrawn", HANDED_BACK.isoformat())
            assert (await client.get("/warnings")).json()["items"] == []
            occupancy = (await client.get("/units/occupancy", params=UNIT._asdict())).json()
            assert occupancy["status"] == "unlet"
            # More evenings of the stranger: counted at the unlet flat, no new warning.
            later = [door_signal(UNIT, "tenant", local(day, 19)) for day in days(HANDED_BACK, 30)]
            await js.publish(DOOR_ACCESS.subject, json.dumps(later).encode())
            await eventually(
                lambda: app.book.signals.get("unlet", 0) == 30, "the later evenings counted as unlet"
            )
            assert (await client.post("/detection/run")).json() == {"raised": []}
            figures = (await client.get("/figures")).json()
            assert (figures["households_exited"], figures["flats_unlet"]) == (1, 1)
            assert figures["warnings_by_state"] == {"withdrawn": 1}
            timeline = (await client.get(f"/households/{household}/timeline")).json()
            assert timeline["entries"][-1]["type"] == "OccupancyWarning.Withdrawn"
            assert any(e["type"] == "Household.Exited" for e in timeline["entries"])
    finally:
        await runtime.stop()
        await nc.close()
