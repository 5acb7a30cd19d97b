"""The three floods of issue 10, each against a real process (`python -m gateway`, `python -m
federation`, `python -m services.eligibility`) on a real nats-server. The tests
(`tests/floods/test_*.py`) assert what must hold; `bench/floods.py` runs them at full size and
reports the figures. Budgets are stated here, next to what they bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from services.kit import clock
from tests.floods.harness import (
    MIB,
    HealthProbe,
    MemoryWatch,
    Outcome,
    Probe,
    cpu_seconds,
    full_scale,
    request,
)
from tests.support.nats import NatsServer, free_port
from tests.support.processes import ServiceProcess

BODY_SIZES = (256 * 1024, 512 * 1024, 1 * MIB, 2 * MIB)
"""The flood's bodies: 256 KiB to 2 MiB, in turn."""

# Stated memory budgets (peak resident memory of the process, MiB). The gateway and federation hold
# at most HTTP_MAX_BODY_BYTES_IN_FLIGHT of request bodies (and what parsing them makes: a JSON batch
# of facts is ~5 times its size as Python objects) on top of what they hold idle (~100 MiB); the
# eligibility consumer holds at most one fetched batch and one prefetched (INBOX_BATCH_SIZE each)
# whatever the backlog, next to its aggregate cache and read model.
GATEWAY_BUDGET_MIB = 400
FEDERATION_BUDGET_MIB = 300
ELIGIBILITY_BUDGET_MIB = 400
HTTP_BYTES_IN_FLIGHT = 32 * MIB
"""HTTP_MAX_BODY_BYTES_IN_FLIGHT for the floods (the default is 128 MiB)."""


def health_port_of(process: ServiceProcess) -> int:
    """The process's health listener (`HEALTH_PORT`, set by the scenarios to a free port)."""
    return int(process.env["HEALTH_PORT"])


def wait_health_ready(process: ServiceProcess, timeout: float = 60.0) -> None:
    """Until the health port's `/readyz` is 200 too: its snapshot follows the API port's by up to
    half a second (`services.kit.health.REFRESH_S`)."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{health_port_of(process)}/readyz"
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5).status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError(f"{process.module}: health port never ready:\n{process.tail()}")


def post_count() -> int:
    return 2_000 if full_scale() else 300


def message_count() -> int:
    return 50_000 if full_scale() else 5_000


@dataclass
class FloodResult:
    name: str
    outcomes: list[Outcome]
    probes: list[Probe]  # the health port's (`HEALTH_PORT`, `services/kit/health.py`)
    main_probes: list[Probe]  # the API port's `/healthz`, behind the flood in its listen queue
    ended_at: float  # time.monotonic() when the last answer came
    baseline_mib: float
    peak_mib: float
    end_mib: float
    budget_mib: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def during(self, main: bool = False) -> list[Probe]:
        return [p for p in (self.main_probes if main else self.probes) if p.at <= self.ended_at]

    def after(self, main: bool = False) -> list[Probe]:
        return [p for p in (self.main_probes if main else self.probes) if p.at > self.ended_at]


async def flood(
    name: str,
    process: ServiceProcess,
    requests: list[Callable[[], Awaitable[Outcome]]],
    budget_mib: int,
    directory: Path,
    *,
    settle_s: float = 2.0,
) -> FloodResult:
    """Every request at once, health probed during and `settle_s` after (on the health port and on the
    API port), memory watched."""
    assert process.process is not None
    pid = process.process.pid
    with (
        MemoryWatch(pid) as memory,
        HealthProbe(health_port_of(process), directory) as probe,
        HealthProbe(process.port, directory) as main_probe,
    ):
        await asyncio.sleep(0.5)  # a few probes before
        cpu = cpu_seconds(pid)
        started = time.monotonic()
        outcomes: list[Outcome] = await asyncio.gather(*(make() for make in requests))
        ended = time.monotonic()
        cpu = cpu_seconds(pid) - cpu
        await asyncio.sleep(settle_s)
    return FloodResult(
        name,
        outcomes,
        probe.probes,
        main_probe.probes,
        ended,
        memory.baseline_mib,
        memory.peak_mib,
        memory.end_mib,
        budget_mib,
        ended - started,
        {"server_cpu_s": cpu},
    )


def _bodies(make: Callable[[int], bytes]) -> dict[int, bytes]:
    return {size: make(size) for size in BODY_SIZES}


# -- the gateway ------------------------------------------------------------------------------------


def facts_body(size: int, department: str = "finance") -> bytes:
    """A JSON array of department facts, about `size` bytes."""
    line = {
        "department": department,
        "reference": "",
        "described_on": "2026-11-01",
        "household_id": str(uuid.UUID(int=1)),
        "fact": {"kind": "financial_assets", "amount": "1000.00"},
    }
    one = len(json.dumps(line)) + 12
    return json.dumps([{**line, "reference": f"FLOOD-{n:08d}"} for n in range(size // one)]).encode()


@contextmanager
def gateway_process(root: Path, **env: str) -> Iterator[tuple[ServiceProcess, Any]]:
    """`python -m gateway` with its own issuer key (shared with this process's `Tokens`)."""
    from gateway.settings import GatewaySettings
    from gateway.tokens import Tokens

    root.mkdir(parents=True, exist_ok=True)
    tokens = Tokens(GatewaySettings(var_dir=root))  # writes the key the process will load
    port = free_port()
    process = ServiceProcess(
        "gateway",
        [],
        {
            "HTTP_PORT": str(port),
            "HEALTH_PORT": str(free_port()),
            "VAR_DIR": str(root),
            "LOG_LEVEL": "WARNING",
            "SERVICES": json.dumps({"eligibility": f"http://127.0.0.1:{free_port()}"}),
            "HTTP_MAX_BODY_BYTES_IN_FLIGHT": str(HTTP_BYTES_IN_FLIGHT),
            **env,
        },
        root / "gateway.log",
    )
    process.start().wait_ready()
    try:
        wait_health_ready(process)
        yield process, tokens
    finally:
        process.stop()


def bearer(tokens: Any, who: str, department: str | None = None) -> tuple[str, str]:
    from gateway.users import Account

    account = Account(who, "department" if department else "supervisor", "", department=department)
    return ("Authorization", "Bearer " + tokens.issue(account)["access_token"])


async def gateway_flood(root: Path, count: int | None = None) -> FloodResult:
    """`count` concurrent POSTs of 256 KiB to 2 MiB at the gateway, from one address:
    - `facts`: department batches (16 MiB limit) that speak for another department: read, parsed and
      refused (403), unless rate-limited (429) or shed (503);
    - `declared`: an approval (64 KiB limit) with a large Content-Length: 413 before the body is read;
    - `streamed`: the same without Content-Length (chunked): 413 once 64 KiB have arrived.
    Tokens change every 50 requests (a client's bucket holds 100); the address's ceiling (500) still
    applies, so at full size most requests are 429."""
    count = count or post_count()
    facts = _bodies(facts_body)
    junk = _bodies(lambda size: b'{"reason": "' + b"x" * size + b'"}')
    approval = f"/api/cases/{uuid.UUID(int=3)}/approval"
    with gateway_process(root) as (process, tokens):
        department = [bearer(tokens, "dept.civil-affairs", "civil_affairs") for _ in range(count // 50 + 1)]
        supervisor = [bearer(tokens, "supervisor.chen") for _ in range(count // 50 + 1)]
        json_type = ("Content-Type", "application/json")
        requests: list[Callable[[], Awaitable[Outcome]]] = []
        for i in range(count):
            size = BODY_SIZES[i % len(BODY_SIZES)]
            kind = ("facts", "facts", "declared", "streamed")[i % 4]
            if kind == "facts":
                headers = [department[i // 50], json_type]
                requests.append(
                    partial(
                        request,
                        process.port,
                        "POST",
                        "/api/facts",
                        group="facts",
                        headers=headers,
                        body=facts[size],
                    )
                )
            else:
                headers = [supervisor[i // 50], json_type]
                requests.append(
                    partial(
                        request,
                        process.port,
                        "POST",
                        approval,
                        group=kind,
                        headers=headers,
                        body=junk[size],
                        chunked=kind == "streamed",
                    )
                )
        result = await flood("gateway", process, requests, GATEWAY_BUDGET_MIB, root)
        after = await request(process.port, "GET", "/api/me", headers=[bearer(tokens, "auditor.sun")])
        result.extra["after_status"] = after.status
        result.extra["log"] = process.tail(20)
    return result


# -- federation -------------------------------------------------------------------------------------


@contextmanager
def federation_process(root: Path, **env: str) -> Iterator[tuple[ServiceProcess, Path]]:
    """`python -m federation` as Foshan, Guangzhou a peer at 50 queries/s (burst 100)."""
    from federation.demo import SIGNING_KEY, write_demo

    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    demo = root / "demo"
    write_demo(demo, {"CN-FS": port, "CN-GZ": free_port()}, rate=(50.0, 100))
    nats = NatsServer(root / "nats", port=free_port(), http_port=free_port())
    nats.start()
    process = ServiceProcess(
        "federation",
        [],
        {
            "NATS_URL": nats.url,
            "NATS_CREDENTIALS": str(nats.credentials),
            "HTTP_PORT": str(port),
            "HEALTH_PORT": str(free_port()),
            "VAR_DIR": str(root),
            "LOG_LEVEL": "WARNING",
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(root / "federation.sqlite"),
            "FEDERATION_CITY": "CN-FS",
            "FEDERATION_PRIVATE_KEY_FILE": str(demo / "CN-FS" / SIGNING_KEY),
            "FEDERATION_PEERS_FILE": str(demo / "CN-FS" / "peers.yaml"),
            "FEDERATION_DATA_FILE": str(demo / "CN-FS" / "data.yaml"),
            "FEDERATION_AUDIT_FILE": str(root / "audit.jsonl"),
            "FEDERATION_CONSUME_CHECKS": "false",
            "HTTP_MAX_BODY_BYTES_IN_FLIGHT": str(HTTP_BYTES_IN_FLIGHT),
            **env,
        },
        root / "federation.log",
    )
    try:
        process.start().wait_ready()
        wait_health_ready(process)
        yield process, demo
    finally:
        process.stop()
        nats.stop()


def signed_queries(demo: Path, port: int, count: int) -> list[tuple[bytes, list[tuple[str, str]]]]:
    from bench.federation import _requests

    return _requests(demo, port, count)


async def federation_flood(root: Path, count: int | None = None) -> FloodResult:
    """`count` concurrent POSTs at the peers' endpoint:
    - `declared`: 256 KiB to 2 MiB with Content-Length: 413 (`too-large`) before admission;
    - `streamed`: the same chunked: 413 once 64 KiB have arrived, or 503 when the gate is full;
    - `signed`: valid signed queries from Guangzhou: 200, 429 over its rate, or 503."""
    from bench.federation import PATH

    count = count or post_count()
    junk = _bodies(lambda size: b"x" * size)
    with federation_process(root) as (process, demo):
        queries = iter(signed_queries(demo, process.port, count // 4 + 1))
        requests: list[Callable[[], Awaitable[Outcome]]] = []
        for i in range(count):
            size = BODY_SIZES[i % len(BODY_SIZES)]
            kind = ("declared", "streamed", "signed", "declared")[i % 4]
            if kind == "signed":
                body, headers = next(queries)
                requests.append(
                    partial(request, process.port, "POST", PATH, group="signed", headers=headers, body=body)
                )
            else:
                requests.append(
                    partial(
                        request,
                        process.port,
                        "POST",
                        PATH,
                        group=kind,
                        headers=[("Content-Type", "application/json")],
                        body=junk[size],
                        chunked=kind == "streamed",
                    )
                )
        result = await flood("federation", process, requests, FEDERATION_BUDGET_MIB, root)
        await asyncio.sleep(2.5)  # Guangzhou's bucket refills (50/s)
        body, headers = signed_queries(demo, process.port, 1)[0]
        after = await request(process.port, "POST", PATH, headers=headers, body=body)
        result.extra["after_status"] = after.status
        result.extra["log"] = process.tail(20)
    return result


# -- a slow consumer under 50,000 messages ----------------------------------------------------------

FACT_SUBJECT = "housing.department.fact-reported.civil_affairs"  # income: civil affairs reports it
DURABLE = "eligibility-department"


@dataclass
class BusResult:
    messages: int
    households: int
    delay_s: float
    publish_s: float
    drain_s: float
    probes: list[Probe]  # the health port's
    main_probes: list[Probe]  # the API port's
    drained_at: float
    baseline_mib: float
    peak_mib: float
    end_mib: float
    budget_mib: int
    max_pending: int
    recorded: Counter[str]
    log: str

    def during(self, main: bool = False) -> list[Probe]:
        return [p for p in (self.main_probes if main else self.probes) if p.at <= self.drained_at]

    def after(self, main: bool = False) -> list[Probe]:
        return [p for p in (self.main_probes if main else self.probes) if p.at > self.drained_at]


def _store_env(root: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(root / "eligibility.sqlite")}


def _seed(root: Path, households: int) -> list[uuid.UUID]:
    from bench.eligibility import seed
    from services.eligibility.application import EligibilityApp
    from services.eligibility.settings import EligibilitySettings

    app = EligibilityApp(EligibilitySettings(var_dir=root, log_level="WARNING"), _store_env(root))
    try:
        return seed(app, households, facts=False, rng=random.Random(5))
    finally:
        app.close()


def _recorded(root: Path) -> Counter[str]:
    """How many times each fact reference was recorded on a household (from the store)."""
    from services.eligibility.application import EligibilityApp
    from services.eligibility.domain import Household
    from services.eligibility.settings import EligibilitySettings

    app = EligibilityApp(EligibilitySettings(var_dir=root, log_level="WARNING"), _store_env(root))
    topic = f"{Household.FactRecorded.__module__}:{Household.FactRecorded.__qualname__}"
    counts: Counter[str] = Counter()
    try:
        start = 1
        while True:
            batch = app.process_recorder.select_notifications(start, 5_000, topics=[topic])
            if not batch:
                return counts
            for notification in batch:
                event = app.mapper.to_domain_event(notification)
                assert isinstance(event, Household.FactRecorded)
                counts[event.reference] += 1
            start = batch[-1].id + 1
    finally:
        app.close()


async def bus_flood(root: Path, count: int | None = None, delay_s: float = 0.001) -> BusResult:
    """`count` department facts published as fast as JetStream takes them into eligibility, whose
    fact handler sleeps `delay_s` per fact (`HOUSING_FAILPOINTS=eligibility.fact~delay_s`): the
    backlog waits in the stream, the process's memory must not follow it."""
    from nats.js.errors import NotFoundError

    from bench.eligibility import _message, _report
    from services.kit.bus import connect, ensure_streams

    count = count or message_count()
    households = max(200, count // 10)
    root.mkdir(parents=True, exist_ok=True)
    nats = NatsServer(root / "nats", port=free_port(), http_port=free_port())
    nats.start()
    try:
        # the test watches the consumer with the operator's credential
        admin = await connect(nats.url, "flood-watch", identity="admin", credentials=nats.credentials)
        await ensure_streams(admin.jetstream())
        # the flood comes in as civil affairs would send it: with its credential, on its subject
        nc = await connect(
            nats.url, "flood-department", identity="department-civil_affairs", credentials=nats.credentials
        )
        js = nc.jetstream(publish_async_max_pending=4000)
        ids = await asyncio.to_thread(_seed, root, households)
        today = clock.now().date()
        messages = [
            _message(
                _report(
                    ids[i % households],
                    f"FLOOD-{i}",
                    {"kind": "income", "monthly_income": str(Decimal(2000 + i % 3000))},
                    today,
                )
            )
            for i in range(count)
        ]
        process = ServiceProcess(
            "services.eligibility",
            [],
            {
                "NATS_URL": nats.url,
                "NATS_CREDENTIALS": str(nats.credentials),
                "HTTP_PORT": str(free_port()),
                "HEALTH_PORT": str(free_port()),
                "VAR_DIR": str(root),
                "LOG_LEVEL": "WARNING",
                **_store_env(root),
            },
            root / "eligibility.log",
        )
        process.start({"HOUSING_FAILPOINTS": f"eligibility.fact~{delay_s}"}).wait_ready()
        try:
            wait_health_ready(process)
            assert process.process is not None
            with (
                MemoryWatch(process.process.pid) as memory,
                HealthProbe(health_port_of(process), root) as probe,
                HealthProbe(process.port, root) as main_probe,
            ):
                await asyncio.sleep(0.5)
                started = time.monotonic()
                futures = [
                    await js.publish_async(FACT_SUBJECT, data, headers={"Nats-Msg-Id": f"FLOOD-{i}"})
                    for i, data in enumerate(messages)
                ]
                await asyncio.gather(*futures)
                published = time.monotonic()
                max_pending = 0
                while True:
                    try:
                        info = await admin.jetstream().consumer_info("DEPARTMENT", DURABLE)
                    except NotFoundError:  # the inbox has not made its consumer yet
                        await asyncio.sleep(0.2)
                        continue
                    max_pending = max(max_pending, info.num_pending or 0)
                    if not info.num_pending and not info.num_ack_pending:
                        break
                    if process.process.poll() is not None:
                        raise AssertionError(f"eligibility exited:\n{process.tail()}")
                    await asyncio.sleep(0.2)
                drained = time.monotonic()
                await asyncio.sleep(2.0)
        finally:
            process.stop()
            log = process.tail(20)
        await nc.close()
        await admin.close()
    finally:
        nats.stop()
    recorded = await asyncio.to_thread(_recorded, root)
    return BusResult(
        count,
        households,
        delay_s,
        published - started,
        drained - started,
        probe.probes,
        main_probe.probes,
        drained,
        memory.baseline_mib,
        memory.peak_mib,
        memory.end_mib,
        ELIGIBILITY_BUDGET_MIB,
        max_pending,
        recorded,
        log,
    )
