"""The whole path on a real nats-server: eligibility's household → register; door signals over NATS
and HTTP → occupancy → a warning; an inspector's confirmation → the violation penalties receives.
Also: bad signals dead-lettered without stopping the intake, and a restart that neither loses nor
double-counts what was folded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from nats.js.api import ConsumerConfig, DeliverPolicy

from contracts.eligibility import ResidenceVerified
from contracts.envelope import Envelope
from contracts.monitoring import ViolationConfirmed
from services.kit import clock
from services.kit.bus import connect, ensure_streams
from services.kit.codec import Outgoing, encode
from services.monitoring.application import MonitoringApp
from services.monitoring.handlers import DOOR_ACCESS, REGISTERED, RESIDENCE_VERIFIED
from services.monitoring.intake import CHECKPOINT_FILE
from services.monitoring.service import MonitoringRuntime, build
from services.monitoring.settings import MonitoringSettings
from tests.monitoring.support import INSPECTOR, START, UNIT, days, door_signal, local
from tests.monitoring.test_warnings import Scene, registration
from tests.support.nats import NatsServer


async def eventually(predicate: Callable[[], bool], message: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.05)


async def read_subject(url: str, stream: str, subject: str, expected: int) -> list[bytes]:
    nc = await connect(url, "reader", identity="admin")
    sub = await nc.jetstream().pull_subscribe(
        subject, stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
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
    await nc.close()
    return found


def start(nats: NatsServer, tmp_path: Path) -> tuple[Any, MonitoringRuntime, MonitoringApp]:
    settings = MonitoringSettings(
        nats_url=nats.url, var_dir=tmp_path, signals_checkpoint_s=0.2, detection_sweep_s=3600
    )
    api, runtime = build(
        settings, {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "m.sqlite")}
    )
    assert isinstance(runtime.app, MonitoringApp)
    return api, runtime, runtime.app


async def test_signals_through_nats_to_a_warning_and_a_violation(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    household, member = uuid4(), uuid4()
    payload = registration(household, [member])
    await js.publish(
        REGISTERED.subject,
        encode(
            Outgoing(REGISTERED, str(household), payload),
            event_id="e1",
            source="/test",
            time=clock.now(),
        ),
        headers={"Nats-Msg-Id": "test:registered"},
    )
    api, runtime, app = start(nats_server, tmp_path)
    await runtime.start()
    try:

        def registered() -> bool:
            app.catch_up()
            return UNIT in app.register.by_unit

        await eventually(registered, "the household in the register")
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://m", auth=INSPECTOR) as client:
            enrolled = await client.post(
                "/credentials", json={"kind": "card", "credential_id": "c-1", "member_id": str(member)}
            )
            assert enrolled.status_code == 201 and enrolled.json()["unit"] == UNIT.unit
            assert (
                await client.post(
                    "/credentials", json={"kind": "card", "credential_id": "x", "member_id": str(uuid4())}
                )
            ).status_code == 404

            # Twenty evenings of a sub-tenant over NATS, as an estate gateway batches them …
            evenings = [door_signal(UNIT, "tenant", local(day, 19)) for day in days(START, 20)]
            await js.publish(DOOR_ACCESS.subject, json.dumps(evenings).encode())
            # … a bad one and one for a unit nobody holds, which must not stop the intake …
            await js.publish(DOOR_ACCESS.subject, b'{"estate": "Chancheng Garden"}')
            await js.publish(DOOR_ACCESS.subject, json.dumps({**evenings[0], "unit": "9999"}).encode())
            # … and ten more evenings and one household visit over HTTP, as NDJSON.
            more = [
                door_signal(UNIT, "tenant", local(day, 19)) for day in days(START + timedelta(days=20), 10)
            ]
            more.append(door_signal(UNIT, "c-1", local(START, 10)))
            body = "\n".join(json.dumps(s) for s in more) + '\n{"estate": 1}\n'
            posted = await client.post(
                "/signals/door-access", content=body, headers={"content-type": "application/x-ndjson"}
            )
            assert posted.status_code == 202
            assert posted.json()["accepted"] == 11 and [r["index"] for r in posted.json()["rejected"]] == [11]

            def folded_all() -> bool:
                occupancy = app.book.units.get(UNIT)
                return occupancy is not None and sum(c[1] for c in occupancy.days.values()) == 30

            await eventually(folded_all, "the thirty evenings folded")
            await eventually(lambda: bool(app.open_warnings()), "a warning")
            (warning,) = (await client.get("/warnings", params={"estate": UNIT.estate})).json()["items"]
            assert warning["condition"] == "sublet_or_lend" and warning["household_id"] == str(household)
            history = (await client.get("/units/occupancy", params=UNIT._asdict() | {"days": 40})).json()
            assert sum(d["other_openings"] for d in history["days"]) == 30
            assert sum(d["member_openings"] for d in history["days"]) == 1

            url = f"/warnings/{warning['warning_id']}"
            assert (
                await client.post(
                    f"{url}/confirm", json={"inspector_id": "inspector.wu", "finding": "sublet"}
                )
            ).status_code == 409
            assert (
                await client.post(f"{url}/assign", json={"inspector_id": "inspector.wu"})
            ).status_code == 200
            confirmed = await client.post(
                f"{url}/confirm",
                json={"inspector_id": "inspector.wu", "finding": "sublet", "note": "met the sub-tenant"},
            )
            assert confirmed.status_code == 200

        (violation_data,) = await read_subject(
            nats_server.url, "MONITORING", "housing.monitoring.violation-confirmed", 1
        )
        envelope = Envelope.model_validate_json(violation_data)
        violation = ViolationConfirmed.model_validate(envelope.data)
        assert envelope.subject == str(household)
        assert (violation.violation, violation.warning_id.hex) == (
            "sublet",
            warning["warning_id"].replace("-", ""),
        )

        dead = [
            json.loads(d)
            for d in await read_subject(nats_server.url, "DEADLETTER", "housing.deadletter.monitoring", 2)
        ]
        assert sorted(d["reason"].split(":")[0] for d in dead) == ["invalid signal", "unknown_unit"]
        assert all(d["stream"] == "SIGNALS" for d in dead)
        folded = app.book.units[UNIT].to_json()
    finally:
        await runtime.stop()

    # Restart: the checkpoint holds what was folded; nothing is counted twice, new signals add on.
    assert (tmp_path / CHECKPOINT_FILE).exists()
    _, runtime, app = start(nats_server, tmp_path)
    await runtime.start()
    try:
        assert runtime.intake is not None
        await eventually(
            lambda: runtime.intake is not None and runtime.intake.idle.is_set(), "the intake idle"
        )
        assert runtime.intake.checkpointed >= 3  # loaded from the checkpoint, not replayed from 1
        assert app.book.units[UNIT].to_json() == folded
        await js.publish(DOOR_ACCESS.subject, json.dumps(door_signal(UNIT, "c-1", local(START, 11))).encode())
        await eventually(
            lambda: app.book.units[UNIT].days[START.toordinal()][0] == 2, "one more member opening"
        )
        assert sum(counts[1] for counts in app.book.units[UNIT].days.values()) == 30
        assert len(app.open_warnings()) == 1
    finally:
        await runtime.stop()
        await nc.close()


async def test_a_crash_replays_from_the_last_checkpoint_without_double_counting(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """A crash loses what was folded after the last checkpoint (and the consumer never saw those acks):
    the next start folds exactly those signals again, from the stream."""
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    household, member = uuid4(), uuid4()
    await js.publish(
        REGISTERED.subject,
        encode(
            Outgoing(REGISTERED, str(household), registration(household, [member])),
            event_id="e1",
            source="/test",
            time=clock.now(),
        ),
    )
    _, runtime, app = start(nats_server, tmp_path)
    await runtime.start()
    checkpoint = tmp_path / CHECKPOINT_FILE
    try:

        def registered() -> bool:
            app.catch_up()
            return UNIT in app.register.by_unit

        await eventually(registered, "the household in the register")
        for day in days(START, 10):
            await js.publish(
                DOOR_ACCESS.subject, json.dumps(door_signal(UNIT, "tenant", local(day, 19))).encode()
            )
        assert runtime.intake is not None
        intake = runtime.intake
        await eventually(lambda: intake.checkpointed == 10, "a checkpoint at sequence 10")
        earlier = checkpoint.read_bytes()
        for day in days(START + timedelta(days=10), 5):
            await js.publish(
                DOOR_ACCESS.subject, json.dumps(door_signal(UNIT, "tenant", local(day, 19))).encode()
            )
        await eventually(lambda: intake.position == 15, "five more folded")
    finally:
        await runtime.stop()
    checkpoint.write_bytes(earlier)  # as if the process had died before checkpointing the last five

    _, runtime, app = start(nats_server, tmp_path)
    await runtime.start()
    try:
        assert runtime.intake is not None
        intake = runtime.intake
        await eventually(lambda: intake.position == 15, "the five replayed")
        assert sum(counts[1] for counts in app.book.units[UNIT].days.values()) == 15
        assert app.book.units[UNIT].others[app.hasher.key("card", "tenant")][0] == 15
    finally:
        await runtime.stop()
        await nc.close()


async def test_public_security_s_finding_over_nats_confirms_the_warning_and_is_the_violation(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """Eligibility's `residence-verified` (a verification task answered by public security) reaches
    monitoring's inbox, which confirms the warning with the finding and publishes the violation."""
    store = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "m.sqlite")}
    scene = Scene(tmp_path, store)  # a warning raised in the store, as detection raises it
    scene.register()
    scene.strangers(START, 30)
    (warning_id,) = scene.app.detect()
    scene.app.close()
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    verified = ResidenceVerified.model_validate(
        {
            "household_id": str(scene.household),
            "request_id": str(uuid4()),
            "warning_id": str(warning_id),
            "department": "public_security",
            "finding": "lend",
            "verified_by": "dept.public-security",
            "verified_on": (START + timedelta(days=35)).isoformat(),
        }
    )
    await js.publish(
        RESIDENCE_VERIFIED.subject,
        encode(
            Outgoing(RESIDENCE_VERIFIED, str(scene.household), verified),
            event_id="v1",
            source="/test",
            time=clock.now(),
        ),
        headers={"Nats-Msg-Id": "test:verified"},
    )
    _, runtime, app = start(nats_server, tmp_path)
    await runtime.start()
    try:
        await eventually(lambda: app.warning(warning_id)["status"] == "confirmed", "the warning confirmed")
        assert app.warning(warning_id)["finding"] == "lend"
        (violation_data,) = await read_subject(
            nats_server.url, "MONITORING", "housing.monitoring.violation-confirmed", 1
        )
        violation = ViolationConfirmed.model_validate(Envelope.model_validate_json(violation_data).data)
        assert (violation.violation, violation.warning_id) == ("lend", warning_id)
    finally:
        await runtime.stop()
        await nc.close()
