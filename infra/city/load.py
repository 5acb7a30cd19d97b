"""Loading the city as its departments would, through the front door only: the gateway's routes with
each system's own client credentials (infra/city/frontdoor.py), and the bus with each department's and
signal source's own bus credentials.

- the housing office's register (`registry.housing-office`): households in units (`households.ndjson`)
  and on a rent subsidy (`subsidy/households.ndjson`), as NDJSON batches to the gateway's
  `POST /api/registrations`, each line with the household's ref (`H000001`, `R000001`) as its
  reference, so a batch sent again after a lost answer registers nobody twice; then the door
  credentials issued to their members (`credentials.ndjson`) to `POST /api/credentials`, each naming the
  member by the `member_id` the registration answered at that member's place (the register's own
  records: no person hash is looked up);
- civil affairs, real estate, finance, tax: their facts (`facts.ndjson`, `subsidy/facts.ndjson`) as
  NDJSON batches to the gateway's `POST /api/facts`, each department with its own client
  (`dept.civil-affairs`, ...), all four at once;
- public security, social insurance, human resources: their facts as exports on NATS,
  `housing.department.facts-reported` CloudEvents of up to `FACTS_PER_EXPORT` facts each (eligibility,
  monitoring and training take each fact of an export as a `fact-reported`);
- the estates' door readers and utility meters: `door_access.ndjson`, `utility.ndjson` as JSON arrays on
  NATS `housing.signals.door-access` / `housing.signals.utility-reading`.

Monitoring learns a household from eligibility's events, so a credential sent before it has is answered
404 for its line: the register sends those lines again until monitoring knows them, as any client of an
eventually consistent platform would, and only then do the door readers publish.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from nats.aio.client import Client as NATS

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported, DepartmentFactsReported
from infra.city.data import City, ndjson, raw_lines
from infra.city.frontdoor import DEPARTMENT_CLIENTS, REGISTRY, FrontDoor
from services.kit import clock
from services.kit.bus import connect
from services.kit.busauth import department_identity
from services.kit.codec import Outgoing, encode
from services.kit.identity import Minter, ServiceAuth

FACT_REPORTED = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]
FACTS_REPORTED = EVENTS_BY_TYPE[("housing.department.facts-reported", 1)]
DOOR_SUBJECT = "housing.signals.door-access"
UTILITY_SUBJECT = "housing.signals.utility-reading"
HTTP_DEPARTMENTS = frozenset({"civil_affairs", "real_estate", "finance", "tax"})
"""Departments that post batches to eligibility; the others publish on NATS."""
FACTS_PER_REQUEST = 5000
REGISTRATIONS_PER_REQUEST = 5000
REGISTRATION_CONCURRENCY = 2
"""Eligibility writes one transaction at a time; two requests in flight keep it busy while the next
batch travels and the last answer is read."""
CREDENTIALS_PER_REQUEST = 10_000
SIGNALS_PER_MESSAGE = 500
FACTS_PER_EXPORT = 500
CONCURRENCY = 6

T = TypeVar("T")


@dataclass(frozen=True)
class Urls:
    """Where each process of the running stack answers."""

    services: dict[str, str]
    nats: str
    nats_monitor: str
    credentials: Path | None = None
    """The stack's bus credentials: each department and signal source publishes with its own."""

    assertion_key: Path | None = None
    """The stack's service-assertion key (`<var>/gateway/assertion-key.pem`): the demo's tools sign
    their direct calls of the services with it, as an operator tool would (see the module docstring)."""

    clock_file: Path | None = None
    """The stack's simulated clock (`SIMULATED_CLOCK_FILE` of every process): the demo moves time
    by writing it, and reads its own time from it."""

    def __getitem__(self, name: str) -> str:
        return self.services[name]

    def minter(self) -> Minter | None:
        return None if self.assertion_key is None else Minter.from_file(self.assertion_key)

    def auth(self, subject: str, role: str) -> ServiceAuth | None:
        """A client's default caller of the services (not the gateway, which takes its own tokens)."""
        minter = self.minter()
        services = {name: url for name, url in self.services.items() if name != "gateway"}
        return None if minter is None else ServiceAuth(minter, services, subject, role)

    def as_operator(
        self, service: str, subject: str, role: str, department: str | None = None
    ) -> dict[str, str]:
        """The headers of one call of `service` by `subject` in `role` (a department system's with
        `department`); none without a key (a stack that asks for none)."""
        minter = self.minter()
        return {} if minter is None else minter.headers(service, subject, role, None, department)

    async def bus(self, identity: str) -> NATS:
        """A connection to the stack's bus as `identity` (`department-finance`, `door-access`, `admin`)."""
        return await connect(
            self.nats,
            f"city-{identity}",
            identity=identity if self.credentials else None,
            credentials=self.credentials,
            attempts=5,
        )

    async def publish_as(self, identity: str, messages: Iterable[tuple[str, bytes, str]]) -> int:
        nc = await self.bus(identity)
        try:
            return await publish_all(nc, messages)
        finally:
            await nc.close()


@dataclass
class Registered:
    """What eligibility answered for each household, by ref (H000001, ... in units; R000001, ... on a
    rent subsidy)."""

    household_ids: dict[str, str] = field(default_factory=dict)
    member_ids: dict[str, str] = field(default_factory=dict)
    """person_hash -> member_id"""
    members_of: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """household_id -> the registration answer's members (member_id, person_hash, birth_date, ...)"""

    def ref_of(self) -> dict[str, str]:
        return {hid: ref for ref, hid in self.household_ids.items()}


@dataclass
class Counts:
    registered: int = 0
    registered_subsidy: int = 0
    credentials: int = 0
    facts_http: int = 0
    facts_bus: int = 0
    facts_recorded: int = 0
    facts_duplicate: int = 0
    facts_parked: int = 0
    facts_unmatched: int = 0
    facts_rejected: int = 0
    door_signals: int = 0
    utility_signals: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def bounded(calls: Iterable[Callable[[], Awaitable[T]]], limit: int = CONCURRENCY) -> list[T]:
    """Run the calls with at most `limit` in flight; results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


async def checked(response: Awaitable[httpx.Response]) -> httpx.Response:
    return ok(await response)


def ok(answer: httpx.Response) -> httpx.Response:
    """The answer, or an error naming the call and what it said (the demo stops: its data is wrong)."""
    if answer.status_code >= 400:
        raise RuntimeError(
            f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text[:500]}"
        )
    return answer


async def every(client: httpx.AsyncClient, url: str, **params: Any) -> list[Any]:
    """Every item of a service's list, page after page by its `next` cursor (1,000 a page)."""
    query: dict[str, Any] = {"limit": 1000, **params}
    items: list[Any] = []
    while True:
        page = (await checked(client.get(url, params=query))).json()
        items += page["items"]
        if not page["next"]:
            return items
        query["cursor"] = page["next"]


async def every_at_gateway(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[Any]:
    """Every item of a gateway list, by its `next` cursor, as the caller of `headers` (a bearer token)."""
    query: dict[str, Any] = {"limit": 1000}
    items: list[Any] = []
    while True:
        page = (await paced(lambda: client.get(url, params=query, headers=headers))).json()
        items += page["items"]
        if not page["next"]:
            return items
        query["cursor"] = page["next"]


async def paced(send: Callable[[], Awaitable[httpx.Response]], attempts: int = 20) -> httpx.Response:
    """A gateway call, sent again after the `Retry-After` of a 429 (the gateway's rate per client):
    a client that keeps to its budget, as a department's system would."""
    for _ in range(attempts - 1):
        answer = await send()
        if answer.status_code != 429:
            return ok(answer)
        await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
    return ok(await send())


async def post_registrations(
    door: FrontDoor, lines: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    """One batch of (ref, body) as NDJSON; (ref, answer line) for each. A refused or invalid line is an
    error of the population files, not something to go on without."""
    content = [json.dumps({**body, "reference": ref}, separators=(",", ":")).encode() for ref, body in lines]
    data = ok(await door.post_lines(REGISTRY, "/api/registrations", content)).json()
    if data["problems"]:
        raise RuntimeError(f"registrations refused: {json.dumps(data['problems'][:5])}")
    return [(lines[result["line"] - 1][0], result) for result in data["results"]]


async def register_households(door: FrontDoor, city: City, *, subsidy: bool = True) -> tuple[Registered, int]:
    """Households in units, then (with `subsidy`) those on a rent subsidy, in NDJSON batches; returns
    what the gateway answered and how many of them were on a rent subsidy. The answer masks the
    members' hashes (the register may not read them): the demo knows its people by their place in
    the household, as the truth lists them."""
    registered = Registered()
    truths = {t.ref: t for t in [*city.households, *city.subsidised]}
    ref_at = {truth.line: truth.ref for truth in city.households}
    units = [(ref_at[n], body) for n, body in enumerate(ndjson(city.folder / "households.ndjson"), start=1)]
    subsidised: list[tuple[str, dict[str, Any]]] = []
    if subsidy:
        subsidy_ref_at = {truth.line: truth.ref for truth in city.subsidised}
        path = city.folder / "subsidy" / "households.ndjson"
        subsidised = [(subsidy_ref_at[n], body) for n, body in enumerate(ndjson(path), start=1)]

    def call(
        batch: list[tuple[str, dict[str, Any]]],
    ) -> Callable[[], Awaitable[list[tuple[str, dict[str, Any]]]]]:
        return lambda: post_registrations(door, batch)

    batches = list(chunks([*units, *subsidised], REGISTRATIONS_PER_REQUEST))
    answers = await bounded((call(b) for b in batches), REGISTRATION_CONCURRENCY)
    for ref, data in (line for batch in answers for line in batch):
        registered.household_ids[ref] = data["household_id"]
        registered.members_of[data["household_id"]] = data["members"]
        for person, member in zip(truths[ref].members, data["members"], strict=True):
            registered.member_ids[person] = member["member_id"]
    return registered, len(subsidised)


async def enrol_credentials(door: FrontDoor, folder: Path, registered: Registered, within_s: float) -> int:
    """Every credential of `credentials.ndjson`, its member named by the registration's answer at the
    member's place; lines answered 404 (monitoring has not heard of the household yet) are sent again
    until `within_s` has passed."""
    waiting: list[bytes] = []
    for line in ndjson(folder / "credentials.ndjson"):
        household = registered.household_ids[line["household_ref"]]
        member = registered.members_of[household][line["member_index"]]["member_id"]
        body = {"kind": line["kind"], "credential_id": line["credential_id"], "member_id": member}
        waiting.append(json.dumps(body, separators=(",", ":")).encode())
    total = len(waiting)
    deadline = time.monotonic() + within_s
    while waiting:
        unknown: list[bytes] = []
        for batch in chunks(waiting, CREDENTIALS_PER_REQUEST):
            data = ok(await door.post_lines(REGISTRY, "/api/credentials", batch)).json()
            for problem in data["problems"]:
                if problem["status"] != 404:
                    raise RuntimeError(f"credential refused: {json.dumps(problem)}")
                unknown.append(batch[problem["line"] - 1])
        waiting = unknown
        if waiting:
            if time.monotonic() > deadline:
                raise RuntimeError(f"monitoring still knows no member of {len(waiting)} credentials")
            await asyncio.sleep(0.5)
    return total


def fact_message(report: DepartmentFactReported) -> tuple[bytes, str]:
    """A department's CloudEvents envelope, identified by department and reference (a resend is a
    duplicate JetStream drops, and eligibility's receipts would acknowledge it anyway)."""
    event_id = f"{report.department.value}:{report.reference}"
    subject = str(report.household_id or report.person_hash)
    data = encode(
        Outgoing(FACT_REPORTED, subject, report),
        event_id=event_id,
        source=f"/departments/{report.department.value.replace('_', '-')}",
        time=clock.now(),
    )
    return data, event_id


def export_messages(reports: list[DepartmentFactReported]) -> Iterator[tuple[str, bytes, str]]:
    """One department's facts as exports of `FACTS_PER_EXPORT`, each identified by the department and
    its first and last references (the same export sent again is a duplicate JetStream drops)."""
    for batch in chunks(reports, FACTS_PER_EXPORT):
        department = batch[0].department.value
        event_id = f"{department}:export:{batch[0].reference}..{batch[-1].reference}"
        data = encode(
            Outgoing(FACTS_REPORTED, f"{department}-export", DepartmentFactsReported(facts=batch)),
            event_id=event_id,
            source=f"/departments/{department.replace('_', '-')}",
            time=clock.now(),
        )
        yield FACTS_REPORTED.subject_for(department=department), data, event_id


async def publish_all(nc: NATS, messages: Iterable[tuple[str, bytes, str]]) -> int:
    """Publish (subject, data, msg id) with many acks in flight; raise if JetStream refused one."""
    js = nc.jetstream()
    sent = 0
    for batch in chunks(messages, 1000):
        futures = [await js.publish_async(s, d, headers={"Nats-Msg-Id": i}) for s, d, i in batch]
        await asyncio.wait_for(asyncio.gather(*futures), 60.0)  # a PubAck has no deadline of its own
        sent += len(batch)
    return sent


async def post_facts(door: FrontDoor, department: str, lines: list[bytes], counts: Counts) -> None:
    data = ok(await door.post_lines(DEPARTMENT_CLIENTS[department], "/api/facts", lines)).json()
    counts.facts_recorded += data["recorded"]
    counts.facts_duplicate += data["duplicates"]
    counts.facts_parked += data["parked"]
    counts.facts_unmatched += data["unmatched"]
    counts.facts_rejected += data["rejected"]
    counts.facts_http += len(lines)


async def send_facts(door: FrontDoor, urls: Urls, lines: Iterable[bytes], counts: Counts) -> None:
    """Each department on its own road: batches to the gateway with its own client, or exports on NATS
    with its own credential, on its own subject; the departments at once, as they would."""
    http: dict[str, list[bytes]] = {}
    bus: dict[str, list[DepartmentFactReported]] = {}
    for line in lines:
        department = json.loads(line)["department"]
        if department in HTTP_DEPARTMENTS:
            http.setdefault(department, []).append(line)
        else:
            bus.setdefault(department, []).append(DepartmentFactReported.model_validate_json(line))

    async def publish(department: str, reports: list[DepartmentFactReported]) -> None:
        await urls.publish_as(department_identity(department), export_messages(reports))
        counts.facts_bus += len(reports)

    async def post(department: str, facts: list[bytes]) -> None:
        for batch in chunks(facts, FACTS_PER_REQUEST):
            await post_facts(door, department, batch, counts)

    await asyncio.gather(
        *(publish(d, reports) for d, reports in bus.items()), *(post(d, facts) for d, facts in http.items())
    )


def signal_messages(path: Path, subject: str, prefix: str) -> Iterator[tuple[str, bytes, str]]:
    for number, batch in enumerate(chunks(raw_lines(path), SIGNALS_PER_MESSAGE)):
        yield subject, b"[" + b",".join(batch) + b"]", f"{prefix}:{number}"


async def load_city(
    city: City, urls: Urls, *, say: Callable[[str], None], run_id: str, subsidy: bool = True
) -> tuple[Registered, Counts]:
    """Every file of the population into the platform, in the order the intake needs; `subsidy=False`
    leaves the households on a rent subsidy (and their facts) out."""
    counts = Counts()
    folder = city.folder
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(timeout=60.0, trust_env=False, limits=limits) as client:
        door = FrontDoor(client, urls["gateway"])
        started = time.monotonic()
        registered, counts.registered_subsidy = await register_households(door, city, subsidy=subsidy)
        counts.registered = len(registered.household_ids) - counts.registered_subsidy
        counts.seconds["registrations"] = time.monotonic() - started
        say(
            f"registered {counts.registered} households in units and {counts.registered_subsidy} on a "
            f"rent subsidy ({counts.seconds['registrations']:.1f} s)"
        )

        step = time.monotonic()
        await send_facts(door, urls, raw_lines(folder / "facts.ndjson"), counts)
        if subsidy:
            await send_facts(door, urls, raw_lines(folder / "subsidy" / "facts.ndjson"), counts)
        counts.seconds["facts"] = time.monotonic() - step
        say(
            f"department facts: {counts.facts_http} posted to the gateway, {counts.facts_bus} published "
            f"on NATS ({counts.seconds['facts']:.1f} s)"
        )

        step = time.monotonic()
        counts.credentials = await enrol_credentials(door, folder, registered, within_s=300.0)
        counts.seconds["credentials"] = time.monotonic() - step

        step = time.monotonic()
        openings = signal_messages(folder / "door_access.ndjson", DOOR_SUBJECT, f"{run_id}-door")
        await urls.publish_as("door-access", openings)
        utility = signal_messages(folder / "utility.ndjson", UTILITY_SUBJECT, f"{run_id}-utility")
        await urls.publish_as("utility", utility)
        counts.door_signals = sum(1 for _ in raw_lines(folder / "door_access.ndjson"))
        counts.utility_signals = sum(1 for _ in raw_lines(folder / "utility.ndjson"))
        counts.seconds["signals"] = time.monotonic() - step
        say(
            f"{counts.credentials} door credentials enrolled; {counts.door_signals} door openings and "
            f"{counts.utility_signals} utility readings published ({counts.seconds['signals']:.1f} s)"
        )
    return registered, counts
