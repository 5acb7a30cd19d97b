"""A department's export on a real nats-server, on SQLite and PostgreSQL: many facts in one
`facts-reported` message are recorded as if each had come alone, an invalid entry is dead-lettered
on its own while the rest are recorded, and the export sent again changes nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from contracts.catalogue import EVENTS_BY_TYPE
from services.eligibility.application import EligibilityApp, MemberInput
from services.eligibility.service import build
from services.eligibility.settings import EligibilitySettings
from services.kit import clock
from services.kit.bus import connect, ensure_streams
from services.kit.runtime import Runtime
from tests.eligibility.test_bus import read_stream, wait_for
from tests.support.nats import NatsServer

FACTS_REPORTED = EVENTS_BY_TYPE[("housing.department.facts-reported", 1)]
ID_NUMBER = "440604198507151234"


def entry(reference: str, household: UUID, fact: dict[str, Any], department: str = "civil_affairs") -> Any:
    return {
        "department": department,
        "reference": reference,
        "described_on": clock.now().date().isoformat(),
        "household_id": str(household),
        "fact": fact,
    }


def export(name: str, entries: list[Any]) -> bytes:
    """Written as a department's system would, straight to JSON: entries may be invalid."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": name,
            "source": "/departments/civil-affairs",
            "type": FACTS_REPORTED.type,
            "subject": name,
            "time": clock.now().isoformat(),
            "datacontenttype": "application/json",
            "dataschema": FACTS_REPORTED.dataschema,
            "data": {"facts": entries},
        }
    ).encode()


async def test_an_export_is_recorded_fact_by_fact_and_a_bad_entry_alone_is_dead_lettered(
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

        def register(unit: str, number: str) -> UUID:
            return app.register_household(
                region="CN-FS",
                estate="Nanhai Court",
                building="1",
                unit=unit,
                base_rent=Decimal("600.00"),
                tenancy_start=date(2020, 1, 1),
                members=[MemberInput(number, date(1985, 7, 15), False)],
            ).id

        first = await asyncio.to_thread(register, "101", ID_NUMBER)
        second = await asyncio.to_thread(register, "102", "440604199001011235")
        high = {"kind": "income", "monthly_income": "4200.00"}
        entries = [
            entry("MZ-10", first, high),
            entry("MZ-11", first, {"kind": "income", "monthly_income": 4200.5}),  # money as a float
            entry("CZ-10", second, {"kind": "financial_assets", "amount": "100.00"}, "finance"),
            entry("MZ-10", first, high),  # the same record twice in one export
            entry(ID_NUMBER, second, high),  # an ID number where the reference goes
        ]
        data = export("export-1", entries)
        civil = FACTS_REPORTED.subject_for(department="civil_affairs")
        await js.publish(civil, data, headers={"Nats-Msg-Id": "export-1"})
        await js.publish(civil, data, headers={"Nats-Msg-Id": "export-1-resent"})
        # finance's own export of the same record: on its own subject, it counts
        finance = export("export-f", [entries[2]])
        await js.publish(
            FACTS_REPORTED.subject_for(department="finance"), finance, headers={"Nats-Msg-Id": "f"}
        )
        empty = export("export-2", [])
        await js.publish(civil, empty, headers={"Nats-Msg-Id": "export-2"})

        await wait_for(lambda: app.position("inbox:DEPARTMENT") == 4)
        household = await asyncio.to_thread(app.household, first)
        assert [f.source.reference for f in household.facts["income"]["household"]] == ["MZ-10"]
        assert household.outcome == "exit_triggered" and household.open_case is not None
        other = await asyncio.to_thread(app.household, second)
        assert "income" not in other.facts
        assert other.facts["financial_assets"]["household"][0].source.reference == "CZ-10"

        # One decision per household for the export (both waited for, however long the relay takes);
        # the export sent again decided nothing (no third within 3 s more).
        await read_stream(nats_server.url, "ELIGIBILITY", "housing.eligibility.review-decided", 2)
        decided = await read_stream(
            nats_server.url, "ELIGIBILITY", "housing.eligibility.review-decided", 3, timeout=3.0
        )
        assert sorted(d["subject"] for d in decided) == sorted([str(first), str(second)])

        dead = await read_stream(nats_server.url, "DEADLETTER", "housing.deadletter.eligibility", 3)
        reasons = [d["reason"] for d in dead]
        assert len(reasons) == 3
        for reason in reasons[:2]:  # the export and its resent copy: each names its three bad entries
            assert reason.startswith("3 of 5 entries: ")
            assert "facts[1]: " in reason and "monthly_income" in reason
            # civil affairs' export cannot speak for finance: the bus let only civil affairs publish it
            assert "facts[2]: " in reason and "names department=finance" in reason
            assert "facts[4]: " in reason and "reference" in reason
        assert "facts: List should have at least 1 item" in reasons[2]
        assert ID_NUMBER not in json.dumps([d["reason"] for d in dead])
        assert {d["stream_sequence"] for d in dead} == {1, 2, 4}
    finally:
        await runtime.stop()
        await nc.close()
