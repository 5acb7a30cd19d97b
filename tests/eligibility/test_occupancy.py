"""Monitoring's warnings are facts for eligibility's reviewers: published on a real nats-server, each
step lands on the household (its page and timeline), without changing the automated decision; a
warning about a flat no household of ours holds is ignored, and the consumer goes on."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import httpx
from pydantic import BaseModel

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.monitoring import OccupancyWarningConfirmed, OccupancyWarningRaised, ViolationConfirmed
from services.eligibility.application import EligibilityApp, MemberInput
from services.eligibility.service import build
from services.eligibility.settings import EligibilitySettings
from services.kit import clock
from services.kit.bus import connect, ensure_streams
from services.kit.codec import Outgoing, encode
from services.kit.runtime import Runtime
from tests.eligibility.test_bus import wait_for
from tests.support.identity import OperatorAuth
from tests.support.nats import NatsServer


def message(name: str, payload: BaseModel, subject: str) -> tuple[str, bytes]:
    spec = EVENTS_BY_TYPE[(f"housing.monitoring.{name}", 1)]
    data = encode(
        Outgoing(spec, subject, payload), event_id=str(uuid4()), source="/monitoring", time=clock.now()
    )
    return spec.subject, data


async def test_warnings_on_nats_become_the_households_occupancy_record(
    nats_server: NatsServer, tmp_path: Path, persistence: dict[str, str]
) -> None:
    settings = EligibilitySettings(nats_url=nats_server.url, var_dir=tmp_path)
    nc = await connect(nats_server.url, "test-monitoring", identity="admin")
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
        warning = uuid4()
        where = {"estate": "Nanhai Court", "building": "1", "unit": "101"}
        steps = [
            message(
                "warning-raised",
                OccupancyWarningRaised(
                    household_id=household.id,
                    warning_id=warning,
                    **where,
                    condition="sublet_or_lend",
                    raised_on=date(2026, 11, 20),
                    risk_score=82,
                    explanation="most openings by unregistered cards",
                    evidence=[],
                ),
                str(household.id),
            ),
            # about a household we do not know: ignored, the next message still handled
            message(
                "warning-raised",
                OccupancyWarningRaised(
                    household_id=uuid4(),
                    warning_id=uuid4(),
                    **where,
                    condition="vacancy",
                    raised_on=date(2026, 11, 20),
                    risk_score=50,
                    explanation="no member seen",
                    evidence=[],
                ),
                "other",
            ),
            message(
                "warning-confirmed",
                OccupancyWarningConfirmed(
                    household_id=household.id,
                    warning_id=warning,
                    inspector_id="inspector.zhao",
                    finding="sublet",
                    confirmed_on=date(2026, 11, 25),
                    note="tenant's cousin lives there",
                ),
                str(household.id),
            ),
            message(
                "violation-confirmed",
                ViolationConfirmed(
                    household_id=household.id,
                    warning_id=warning,
                    violation="sublet",
                    **where,
                    inspector_id="inspector.zhao",
                    confirmed_on=date(2026, 11, 25),
                ),
                str(household.id),
            ),
        ]
        for subject, data in steps:
            await js.publish(subject, data)

        def noted() -> bool:
            return [o.data["step"] for o in app.household(household.id).occupancy] == ["violation"]

        await wait_for(noted)
        transport = httpx.ASGITransport(app=api)
        auth = OperatorAuth("reviewer.li", "reviewer", "eligibility")
        async with httpx.AsyncClient(transport=transport, base_url="http://e", auth=auth) as client:
            view = (await client.get(f"/households/{household.id}")).json()
            timeline = (await client.get(f"/households/{household.id}/timeline")).json()["entries"]
        assert view["occupancy"][0]["warning_id"] == str(warning)
        assert view["occupancy"][0]["by"] == "inspector.zhao"
        assert view["decision"] is None  # evidence for the reviewers, not an exit rule
        occupancy = [e for e in timeline if e["summary"].startswith("Occupancy warning")]
        assert [e["summary"] for e in occupancy] == [
            "Occupancy warning raised (monitoring)",
            "Occupancy warning confirmed (monitoring)",
            "Occupancy warning violation (monitoring)",
        ]
        assert occupancy[1]["actor"] == "inspector.zhao"
    finally:
        await runtime.stop()
        await nc.close()
