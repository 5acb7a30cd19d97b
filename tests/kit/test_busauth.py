"""Zero trust on the bus, against a real nats-server with the credentials `make run` makes: no one
connects without a credential, each service and department publishes only its own subjects and uses
only its own consumers, and a department cannot report in another's name."""

from __future__ import annotations

import asyncio
import json
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats.js.errors
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported
from services.eligibility.application import EligibilityApp, MemberInput
from services.eligibility.service import build
from services.eligibility.settings import EligibilitySettings
from services.kit import busauth, clock
from services.kit.bus import NoCredential, connect, ensure_streams
from services.kit.codec import Outgoing, encode
from services.kit.runtime import Runtime
from tests.support.nats import NatsServer
from tests.support.waiting import eventually

FACT = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]


async def as_(server: NatsServer, identity: str) -> NATS:
    return await connect(server.url, f"test-{identity}", identity=identity, credentials=server.credentials)


async def stream_count(server: NatsServer, stream: str) -> int:
    nc = await as_(server, busauth.ADMIN)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


async def refused_publish(nc: NATS, subject: str) -> bool:
    """True when the server refused the publish: nats-py hears the permissions violation as an
    asynchronous error and the request for the stream's acknowledgement is never answered."""
    try:
        await nc.jetstream().publish(subject, b"{}", timeout=1.0)
    except (TimeoutError, nats.errors.TimeoutError, nats.js.errors.NoStreamResponseError):
        return True
    return False


async def test_a_client_without_a_credential_is_refused(nats_server: NatsServer) -> None:
    with pytest.raises(NoCredential, match="refused a client without a credential"):
        await connect(nats_server.url, "anonymous", attempts=2)


async def test_a_seed_the_server_does_not_know_is_refused(nats_server: NatsServer, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    busauth.ensure_seed(stranger, "eligibility")  # a well-formed nkey of nobody's
    with pytest.raises(NoCredential, match="refused eligibility"):
        await connect(nats_server.url, "stranger", identity="eligibility", credentials=stranger, attempts=2)


async def test_the_credentials_are_secrets_and_survive_a_rewrite(tmp_path: Path) -> None:
    directory = tmp_path / "credentials"
    busauth.write(directory)
    seeds = {path.name: path.read_bytes() for path in directory.glob("*.nk")}
    assert {"admin.nk", "eligibility.nk", "department-finance.nk", "door-access.nk"} <= set(seeds)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((directory / name).stat().st_mode) == 0o600 for name in seeds)
    busauth.write(directory, {"federation-cn-gz": "federation"})
    assert {path.name: path.read_bytes() for path in directory.glob("*.nk") if path.name in seeds} == seeds
    conf = (directory / busauth.AUTH_CONF).read_text()
    assert "# federation-cn-gz" in conf
    assert not any(seed.strip().decode() in conf for seed in seeds.values())  # public keys only


@pytest.mark.parametrize(
    ("identity", "foreign", "stream"),
    [
        ("eligibility", "housing.penalties.exit-completed", "PENALTIES"),
        ("penalties", "housing.eligibility.exit-decided", "ELIGIBILITY"),
        ("monitoring", "housing.department.fact-reported.finance", "DEPARTMENT"),
        ("federation", "housing.eligibility.review-decided", "ELIGIBILITY"),
        ("resettlement", "housing.deadletter.eligibility", "DEADLETTER"),
        ("door-access", "housing.signals.utility-reading", "SIGNALS"),
    ],
)
async def test_a_service_publishes_only_its_own_subjects(
    nats_server: NatsServer, identity: str, foreign: str, stream: str
) -> None:
    admin = await as_(nats_server, busauth.ADMIN)
    await ensure_streams(admin.jetstream())
    before = await stream_count(nats_server, stream)
    nc = await as_(nats_server, identity)
    try:
        assert await refused_publish(nc, foreign)
        assert await stream_count(nats_server, stream) == before  # nothing reached the stream
    finally:
        await nc.close()
        await admin.close()


async def test_a_department_publishes_only_its_own_facts(nats_server: NatsServer) -> None:
    admin = await as_(nats_server, busauth.ADMIN)
    await ensure_streams(admin.jetstream())
    finance = await as_(nats_server, "department-finance")
    try:
        assert await refused_publish(finance, FACT.subject_for(department="civil_affairs"))
        assert await refused_publish(finance, "housing.department.fact-reported")  # no department named
        assert await stream_count(nats_server, "DEPARTMENT") == 0
        ack = await finance.jetstream().publish(FACT.subject_for(department="finance"), b"{}")
        assert ack.stream == "DEPARTMENT"
    finally:
        await finance.close()
        await admin.close()


async def test_a_service_uses_only_its_own_consumers_and_inbox(nats_server: NatsServer) -> None:
    admin = await as_(nats_server, busauth.ADMIN)
    await ensure_streams(admin.jetstream())
    penalties = await as_(nats_server, "penalties")
    try:
        js = penalties.jetstream(timeout=1.0)
        # its own durable on a stream it consumes: allowed
        own = ConsumerConfig(durable_name="penalties-eligibility", name="penalties-eligibility")
        await js.add_consumer("ELIGIBILITY", config=own)
        # eligibility's durable, or a consumer on a stream penalties does not read: refused
        for stream, durable in [
            ("DEPARTMENT", "eligibility-department"),
            ("DEPARTMENT", "penalties-department"),
        ]:
            with pytest.raises((TimeoutError, nats.errors.TimeoutError)):
                await js.add_consumer(stream, config=ConsumerConfig(durable_name=durable, name=durable))
        with pytest.raises((TimeoutError, nats.errors.TimeoutError)):
            await js.stream_info("DEPARTMENT")
        # no one else's replies: a subscription outside its inbox prefix is refused
        errors: list[Exception] = []

        async def on_error(exc: Exception) -> None:
            errors.append(exc)

        penalties._error_cb = on_error  # to see the asynchronous refusal
        await penalties.subscribe("_INBOX.>")
        await penalties.subscribe("housing.>")
        await eventually(lambda: len(errors) >= 2, "both subscriptions refused")
        assert all("permissions violation for subscription" in str(e).lower() for e in errors)
    finally:
        await penalties.close()
        await admin.close()


def fact(department: str, reference: str, household: str, named: str) -> bytes:
    payload = DepartmentFactReported.model_validate(
        {
            "department": named,
            "reference": reference,
            "described_on": clock.now().date().isoformat(),
            "household_id": household,
            "fact": {"kind": "financial_assets", "amount": "999999.00"},
        }
    )
    out = Outgoing(FACT, household, payload)
    return encode(
        out, event_id=f"{department}:{reference}", source=f"/departments/{department}", time=clock.now()
    )


async def test_eligibility_refuses_a_fact_that_names_another_department_than_its_sender(
    nats_server: NatsServer, tmp_path: Path, persistence: dict[str, str]
) -> None:
    """Tax may publish only on tax's subject; a payload there that says `finance` is someone speaking
    for finance: dead-lettered with the reason, never recorded."""
    settings = EligibilitySettings(nats_url=nats_server.url, var_dir=tmp_path, inbox_max_deliver=2)
    admin = await as_(nats_server, busauth.ADMIN)
    await ensure_streams(admin.jetstream())
    api, app = build(settings, persistence)
    runtime: Runtime = api.state.runtime
    assert isinstance(app, EligibilityApp)
    await runtime.start()
    tax = await as_(nats_server, "department-tax")
    try:
        household = await asyncio.to_thread(
            lambda: app.register_household(
                region="CN-FS",
                estate="Nanhai Court",
                building="1",
                unit="101",
                base_rent=Decimal("600.00"),
                tenancy_start=clock.now().date().replace(year=2020),
                members=[MemberInput("440604198507151234", clock.now().date().replace(year=1985), False)],
            )
        )
        subject = FACT.subject_for(department="tax")
        await tax.jetstream().publish(subject, fact("tax", "TX-1", str(household.id), named="finance"))
        await eventually(lambda: app.position("inbox:DEPARTMENT") == 1, "the forged fact handled")
        assert "financial_assets" not in (await asyncio.to_thread(app.household, household.id)).facts
        dead: list[Any] = []

        async def dead_lettered() -> bool:
            info = await admin.jetstream().stream_info("DEADLETTER")
            if info.state.messages:
                dead[:] = [json.loads((await admin.jetstream().get_msg("DEADLETTER", 1)).data or b"{}")]
            return bool(dead)

        for _ in range(300):
            if await dead_lettered():
                break
            await asyncio.sleep(0.05)
        assert dead and "names department=finance" in dead[0]["reason"]
    finally:
        await tax.close()
        await runtime.stop()
        await admin.close()
