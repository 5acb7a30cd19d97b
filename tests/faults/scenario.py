"""A deterministic department feed through the running stack, and its outcome read back from the bus.

The fault tests run the same feed twice, once without faults and once with them, and compare what
came out. For that comparison to mean "no loss, no duplicate" and nothing else, the fault-free
outcome must not depend on timing. Two things in the platform legitimately do:

- eligibility decides a household once per batch (README, "One decision per household per batch"):
  two facts about one household that arrive in one inbox batch give one decision, in two batches two.
  So the feed is sent in *rounds* of at most one fact per household, and each round is let settle
  (every consumer at its stream's end, every relay's lag 0, no stream growing) before the next;
- a cross-region check with several peer cities gets one answer per city, and a periodic sweep asks
  on a timer. So eligibility asks one peer city (`CROSS_REGION_CITIES=["CN-GZ"]`) and only when a
  case opens (`CROSS_REGION_SWEEP=false`): each check gets one answer, decided alone.

What differs between two runs and is normalised away: the ids of new aggregates (households, members,
reviews, cases, checks: renamed H3, H3/M1, U17 by first appearance in a fixed traversal), every
timestamp, and the envelope's own attributes (id, time, trace context). Everything else must be equal.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.js.errors import NotFoundError

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported
from infra.population.idnumbers import IdNumbers
from services.kit import clock
from services.kit.busauth import ADMIN, department_identity, inbox_prefix, seed_file
from services.kit.codec import Outgoing, encode
from services.kit.identity import Minter, ServiceAuth

FACT_REPORTED = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]
CLERK = ("clerk-intake-01", "admin")
REVIEWER = ("reviewer-07", "reviewer")
SUPERVISOR = ("supervisor-02", "supervisor")
"""The operators (subject, role) of the driver's steps; it calls the services directly (there is no
gateway in the fault stack), as an operator tool would: with assertions minted with the stack's key."""
OUTCOME_STREAMS = ("ELIGIBILITY", "PENALTIES", "RESETTLEMENT", "TRAINING", "MONITORING", "FEDERATION")
"""Every stream a service writes; DEADLETTER is compared as well, DEPARTMENT is the feed itself."""

RANDOM_UNIT_TYPES = frozenset({"housing.resettlement.unit-offered"})
UNIT_FIELDS = frozenset({"unit_id", "unit", "building", "unit_estate"})
"""Resettlement offers a free unit of the pool chosen at random (so that replicas racing for units
rarely collide: services/resettlement/application.py `_offer_free_unit`): which unit is not the same
from one run to the next, only the pool is; `offered_units` checks that no unit is offered twice."""

PENDING_FIGURES = {"penalties": ("notices_undelivered",)}
"""Work a service does after its inbox has committed, which neither a consumer's pending count nor a
relay's lag shows: penalties delivers notices from a loop of its own (and records each delivery)."""

ELIGIBILITY_ENV = {"CROSS_REGION_CITIES": '["CN-GZ"]', "CROSS_REGION_SWEEP": "false"}

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}")
_LINKAGE_HASH = re.compile(r"^[0-9a-f]{64}$")
"""A member's hash for a peer: each run has its own DEMO linkage keys, so it is named like an id."""


# --------------------------------------------------------------------------------------------------
# The feed


@dataclass(frozen=True)
class Feed:
    """Households to register, then rounds of facts (at most one per household per round), then the
    manual re-review of every case the facts opened."""

    households: list[dict[str, Any]]
    rounds: list[list[dict[str, Any]]]
    """each fact as a `DepartmentFactReported` payload with `household` (an index) for household_id"""

    @property
    def facts(self) -> int:
        return sum(len(r) for r in self.rounds)


def make_feed(households: int, rounds: int, *, seed: int = 2026, today: date | None = None) -> Feed:
    rng = random.Random(seed)
    ids = IdNumbers(rng)
    today = today or clock.now().date()
    bodies = []
    for h in range(households):
        members = []
        for m in range(1 + h % 3):
            birth = date(1960 + (h * 7 + m * 13) % 45, 1 + (h + m) % 12, 1 + (h * 3 + m) % 28)
            members.append(
                {"id_number": ids.issue("440604", birth, male=(h + m) % 2 == 0), "birth_date": str(birth)}
            )
        bodies.append(
            {
                "region": "CN-FS",
                "estate": f"Faults Estate {h % 3 + 1}",
                "building": f"B{h % 4 + 1}",
                "unit": f"{h + 101}",
                "base_rent": "650.00",
                "tenancy_start": "2021-03-01",
                "members": members,
            }
        )
    kinds = ("income", "financial_assets", "income", "property", "tax", "income", "social_insurance")
    feed_rounds: list[list[dict[str, Any]]] = []
    for r in range(rounds):
        facts = []
        for h in range(households):
            if (h + r) % 5 == 4:  # a gap now and then: not every household hears from every round
                continue
            kind = kinds[(h + 2 * r) % len(kinds)]
            described = today - timedelta(days=(rounds - r) + h % 7)
            facts.append({"household": h, "described_on": str(described), **_fact(kind, h, r, rng)})
        feed_rounds.append(facts)
    return Feed(households=bodies, rounds=feed_rounds)


def _fact(kind: str, h: int, r: int, rng: random.Random) -> dict[str, Any]:
    reference = f"FLT-{kind[:3].upper()}-{h:03d}-{r:03d}"
    if kind == "income":
        # around Foshan's limit (3,960 per capita): households cross it both ways during the feed
        amount = Decimal(3300 + rng.randrange(0, 1300)).quantize(Decimal("0.01"))
        return {
            "department": "civil_affairs",
            "reference": reference,
            "fact": {"kind": "income", "monthly_income": str(amount)},
        }
    if kind == "financial_assets":
        amount = Decimal(rng.randrange(20_000, 240_000)).quantize(Decimal("0.01"))
        return {
            "department": "finance",
            "reference": reference,
            "fact": {"kind": "financial_assets", "amount": str(amount)},
        }
    if kind == "property":
        area = Decimal(rng.randrange(0, 90)).quantize(Decimal("0.01"))
        return {
            "department": "real_estate",
            "reference": reference,
            "fact": {"kind": "property", "area_m2": str(area), "city": "CN-FS", "property_ref": f"P-{h}-{r}"},
        }
    if kind == "tax":
        amount = Decimal(rng.randrange(20_000, 90_000)).quantize(Decimal("0.01"))
        return {
            "department": "tax",
            "reference": reference,
            "fact": {"kind": "tax", "annual_taxable_income": str(amount)},
        }
    base = Decimal(rng.randrange(2_000, 9_000)).quantize(Decimal("0.01"))
    return {
        "department": "social_insurance",
        "reference": reference,
        "fact": {
            "kind": "social_insurance",
            "employer": f"Foshan Works {h % 4}",
            "contribution_base": str(base),
        },
    }


# --------------------------------------------------------------------------------------------------
# Driving the stack


class Stuck(AssertionError):
    """The stack did not recover or settle in time; the message says what was still pending."""


@dataclass
class Endpoints:
    services: dict[str, str]
    """name -> base URL of every service process"""
    nats_url: str
    """the nats-server itself: the departments (this driver) do not go through the services' proxy"""
    nats_monitor: str
    credentials: Path | None = None
    """the stack's bus credentials: each department publishes with its own"""
    assertion_key: Path | None = None
    """the stack's service-assertion key (services.kit.identity): the driver signs its calls with it"""


@dataclass
class Driver:
    endpoints: Endpoints
    feed: Feed
    household_ids: list[str] = field(default_factory=list)
    member_ids: list[list[str]] = field(default_factory=list)
    http_attempts_failed: int = 0
    nats_attempts_failed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0, trust_env=False))

    def url(self, service: str, path: str) -> str:
        return self.endpoints.services[service] + path

    def acting(self, operator: tuple[str, str]) -> ServiceAuth | None:
        """An operator's credential for a request (`auth=`): an assertion minted at each attempt, so a
        step retried while a service restarts never carries an expired one."""
        key = self.endpoints.assertion_key
        if key is None:
            return None
        return ServiceAuth(Minter.from_file(key), self.endpoints.services, *operator)

    def __post_init__(self) -> None:
        clerk = self.acting(CLERK)
        if clerk is not None:
            self.client.auth = clerk  # reads and the intake: the bureau's clerk

    # -- registrations and facts

    def register(self) -> None:
        for body in self.feed.households:
            answer = self._retrying_post(self.url("eligibility", "/households"), json=body)
            data = answer.json()
            self.household_ids.append(data["household_id"])
            self.member_ids.append([m["member_id"] for m in data["members"]])

    def payloads(self, round_no: int) -> list[dict[str, Any]]:
        out = []
        for fact in self.feed.rounds[round_no]:
            payload = {k: v for k, v in fact.items() if k != "household"}
            payload["household_id"] = self.household_ids[fact["household"]]
            out.append(payload)
        return out

    def send_round(self, round_no: int) -> None:
        """Even rounds as one NDJSON batch to eligibility (a batch of up to 100 facts is one
        transaction: all or nothing, so a resend after a cut is all duplicates or all new), odd rounds
        as CloudEvents on NATS `housing.department.fact-reported` (a resend has the same Nats-Msg-Id)."""
        payloads = self.payloads(round_no)
        if round_no % 2 == 0:
            body = "\n".join(json.dumps(p) for p in payloads) + "\n"
            answer = self._retrying_post(
                self.url("eligibility", "/facts"),
                content=body.encode(),
                headers={"content-type": "application/x-ndjson"},
            )
            data = answer.json()
            for result in data["results"]:
                self.statuses[result["status"]] += 1
            assert data["rejected"] == 0 and data["unmatched"] == 0 and data["parked"] == 0, data
        else:
            self._publish([_fact_message(p) for p in payloads])

    def _retrying_post(self, url: str, *, within_s: float = 120.0, **kwargs: Any) -> httpx.Response:
        """Post until a 2xx: a cut connection or a restarting service is retried, as a department's
        client would (the same lines again: eligibility's receipts make the resend harmless)."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                answer = self.client.post(url, **kwargs)
                if answer.status_code < 300:
                    return answer
                if answer.status_code < 500:
                    raise AssertionError(f"POST {url}: {answer.status_code} {answer.text[:500]}")
            except httpx.TransportError:
                pass
            self.http_attempts_failed += 1
            if time.monotonic() > deadline:
                raise Stuck(f"POST {url} failed for {within_s:.0f} s")
            time.sleep(0.3)

    def _publish(self, messages: Sequence[tuple[bytes, str]], within_s: float = 120.0) -> None:
        deadline = time.monotonic() + within_s
        pending = list(messages)
        while pending:
            with suppress(Exception):  # nats-server down or restarting: the same messages again
                pending = asyncio.run(
                    _publish_all(self.endpoints.nats_url, pending, self.endpoints.credentials)
                )
            if pending:
                self.nats_attempts_failed += 1
                if time.monotonic() > deadline:
                    raise Stuck(f"{len(pending)} facts not acknowledged by JetStream in {within_s:.0f} s")
                time.sleep(0.3)

    # -- manual re-review of every open case, four eyes

    def review_cases(self) -> int:
        """Every open case gets findings from one operator and the approval of another; the proposed
        outcome and the flags follow the household's index, so both runs decide alike."""
        cases = self._every(self.url("eligibility", "/cases?status=open&limit=1000"))
        index = {hid: i for i, hid in enumerate(self.household_ids)}
        cases.sort(key=lambda c: index[c["household_id"]])
        for case in cases:
            h = index[case["household_id"]]
            outcome = ("exit_required", "transition", "retain")[h % 3]
            self._retrying_post(
                self.url("eligibility", f"/cases/{case['case_id']}/findings"),
                json={
                    "findings": f"documents checked for household {h}",
                    "proposed_outcome": outcome,
                    "reason_code": "income_over_limit",
                    "low_income": h % 2 == 0,
                    "wants_to_buy": h % 4 == 1,
                },
                auth=self.acting(REVIEWER),
            )
            self._retrying_post(
                self.url("eligibility", f"/cases/{case['case_id']}/approval"),
                json={"reason": "agreed"},
                auth=self.acting(SUPERVISOR),
            )
        return len(cases)

    def _every(self, url: str) -> list[Any]:
        """Every item of a list, page after page by its `next` cursor."""
        page = self._get(url)
        items: list[Any] = list(page["items"])
        while page["next"]:
            page = self._get(f"{url}&cursor={page['next']}")
            items += page["items"]
        return items

    def _get(self, url: str, within_s: float = 120.0) -> Any:
        deadline = time.monotonic() + within_s
        while True:
            try:
                answer = self.client.get(url)
                if answer.status_code == 200:
                    return answer.json()
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise Stuck(f"GET {url} failed for {within_s:.0f} s")
            time.sleep(0.3)

    # -- waiting

    def wait_ready(self, within_s: float = 120.0) -> float:
        """Until nats-server's JetStream and every service's /readyz answer; seconds it took."""
        started = time.monotonic()
        urls = [f"{self.endpoints.nats_monitor}/healthz?js-enabled-only=true"]
        urls += [f"{base}/readyz" for base in self.endpoints.services.values()]
        for url in urls:
            while True:
                try:
                    if self.client.get(url, timeout=2.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() - started > within_s:
                    raise Stuck(f"{url} not ready after {within_s:.0f} s")
                time.sleep(0.1)
        return time.monotonic() - started

    def settle(self, *, quiet_s: float = 0.6, within_s: float = 180.0) -> float:
        """Until nothing is pending anywhere and no stream grew for `quiet_s`; seconds it took."""
        started = time.monotonic()
        quiet_since: float | None = None
        ends: dict[str, int] | None = None
        state = "never answered"
        while True:
            now = time.monotonic()
            try:
                busy, now_ends = self._backlog()
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                busy, now_ends = {"unreachable": str(exc)}, None
            if not busy and now_ends == ends:
                quiet_since = quiet_since or now
                if now - quiet_since >= quiet_s:
                    return now - started
            else:
                quiet_since = None
                state = json.dumps(busy, sort_keys=True)[:2000]
            ends = now_ends
            if now - started > within_s:
                raise Stuck(f"no steady state after {within_s:.0f} s: {state}")
            time.sleep(0.15)

    def _backlog(self) -> tuple[dict[str, object], dict[str, int]]:
        jsz = self.client.get(
            f"{self.endpoints.nats_monitor}/jsz", params={"consumers": "true"}, timeout=3.0
        ).json()
        busy: dict[str, object] = {}
        ends: dict[str, int] = {}
        for account in jsz.get("account_details", []):
            for stream in account.get("stream_detail", []):
                if stream["name"].startswith("KV_"):
                    continue
                ends[stream["name"]] = stream["state"]["last_seq"]
                for consumer in stream.get("consumer_detail", []):
                    waiting = consumer["num_pending"] + consumer["num_ack_pending"]
                    if waiting:
                        busy[consumer["name"]] = waiting
        for name, keys in PENDING_FIGURES.items():
            if name in self.endpoints.services:
                figures = self.client.get(self.url(name, "/figures"), timeout=3.0).json()
                busy.update({f"{name} {k}": figures[k] for k in keys if figures[k]})
        for name, base in self.endpoints.services.items():
            text = self.client.get(f"{base}/metrics", timeout=3.0).text  # a dead service is not idle
            for service, value in re.findall(r'^housing_relay_lag\{service="([^"]+)"\}\s+(\S+)$', text, re.M):
                if float(value):
                    busy[f"{name}/{service} relay"] = float(value)
        return busy, ends


def _fact_message(payload: dict[str, Any]) -> tuple[bytes, str]:
    report = DepartmentFactReported.model_validate(payload)
    event_id = f"{report.department.value}:{report.reference}"
    data = encode(
        Outgoing(FACT_REPORTED, str(report.household_id), report),
        event_id=event_id,
        source=f"/departments/{report.department.value.replace('_', '-')}",
        time=clock.now(),
    )
    return data, event_id


def _credential(credentials: Path | None, identity: str) -> dict[str, Any]:
    """nats.connect's arguments for `identity`'s seed in the stack's credentials (none: no server auth)."""
    if credentials is None:
        return {}
    return {"nkeys_seed": str(seed_file(credentials, identity)), "inbox_prefix": inbox_prefix(identity)}


ACK_WAIT_S = 10.0
"""How long a department waits for JetStream's acknowledgements before it sends the messages again."""


async def _publish_all(
    url: str, messages: Sequence[tuple[bytes, str]], credentials: Path | None = None
) -> list[tuple[bytes, str]]:
    """Publish each department's facts with its own credential, on its own subject; return the
    messages JetStream did not acknowledge."""
    by_department: dict[str, list[tuple[bytes, str]]] = {}
    for message in messages:
        by_department.setdefault(json.loads(message[0])["data"]["department"], []).append(message)
    failed: list[tuple[bytes, str]] = []
    for department, mine in by_department.items():
        identity = department_identity(department)
        nc = await nats.connect(
            url,
            connect_timeout=2,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            **_credential(credentials, identity),
        )
        try:
            js = nc.jetstream(timeout=5.0)
            subject = FACT_REPORTED.subject_for(department=department)
            futures = [
                await js.publish_async(subject, data, headers={"Nats-Msg-Id": msg_id})
                for data, msg_id in mine
            ]
            # A PubAck future has no deadline of its own: when the server dies after the publish, it
            # never resolves, and a round waited on it for ever (its facts were never sent again).
            done, _ = await asyncio.wait(futures, timeout=ACK_WAIT_S)
            failed += [
                m
                for m, f in zip(mine, futures, strict=True)
                if f not in done or f.cancelled() or f.exception() is not None
            ]
        finally:
            await nc.close()
    return failed


# --------------------------------------------------------------------------------------------------
# Faults in the middle of a round


@dataclass
class FaultRecord:
    name: str
    round_no: int
    recovered_s: float = 0.0
    """from the fault to every process answering again"""
    settled_s: float = 0.0
    """from the fault to a steady state (everything in flight handled)"""
    detail: dict[str, object] = field(default_factory=dict)


def send_with_fault(
    driver: Driver, round_no: int, fault: Callable[[], dict[str, object]], name: str, *, delay_s: float = 0.05
) -> FaultRecord:
    """Send a round from a second thread and inject the fault while it is in flight; the sender
    retries until the round is delivered. `fault` does the damage and the repair (kill, restart) and
    returns what it wants reported."""
    errors: list[BaseException] = []

    def send() -> None:
        try:
            driver.send_round(round_no)
        except BaseException as exc:
            errors.append(exc)

    sender = threading.Thread(target=send, name=f"round-{round_no}")
    sender.start()
    time.sleep(delay_s)
    started = time.monotonic()
    record = FaultRecord(name, round_no, detail=fault())
    driver.wait_ready()
    record.recovered_s = time.monotonic() - started
    sender.join(timeout=180)
    if errors:
        raise errors[0]
    if sender.is_alive():  # never go on as if the round were delivered
        raise Stuck(f"round {round_no} was still being sent after 180 s")
    driver.settle()
    record.settled_s = time.monotonic() - started
    return record


# --------------------------------------------------------------------------------------------------
# The outcome


Outcome = dict[str, list[Any]]
"""(stream, household) -> that household's events on that stream, in stream order, normalised"""


def read_streams(
    nats_url: str,
    streams: Sequence[str] = (*OUTCOME_STREAMS, "DEADLETTER"),
    credentials: Path | None = None,
) -> dict[str, list[bytes]]:
    async def read() -> dict[str, list[bytes]]:
        nc = await nats.connect(nats_url, connect_timeout=5, **_credential(credentials, ADMIN))
        try:
            js = nc.jetstream(timeout=10.0)
            out: dict[str, list[bytes]] = {}
            for stream in streams:
                info = await js.stream_info(stream)
                out[stream] = []
                if not info.state.messages:
                    continue
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    try:
                        message = await js.get_msg(stream, seq)
                    except NotFoundError:
                        continue
                    assert message.data is not None
                    out[stream].append(message.data)
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def outcome(
    raw: dict[str, list[bytes]], household_ids: Sequence[str], member_ids: Sequence[Sequence[str]]
) -> Outcome:
    names: dict[str, str] = {}
    for h, hid in enumerate(household_ids):
        names[hid] = f"H{h}"
        for m, mid in enumerate(member_ids[h]):
            names[mid] = f"H{h}/M{m}"
    per_key: dict[str, list[Any]] = {}
    for stream, messages in raw.items():
        for data in messages:
            envelope = json.loads(data)
            if stream == "DEADLETTER":
                key = f"{stream} {envelope.get('service', '?')}"
                per_key.setdefault(key, []).append(
                    {"reason": envelope.get("reason"), "subject": envelope.get("original_subject")}
                )
                continue
            payload = envelope.get("data", {})
            if envelope.get("type") in RANDOM_UNIT_TYPES and isinstance(payload, dict):
                payload = {k: v for k, v in payload.items() if k not in UNIT_FIELDS}
            household = envelope.get("subject") if envelope.get("subject") in names else None
            if household is None and isinstance(payload, dict):
                household = next((v for v in _strings(payload) if v in household_ids), None)
            key = f"{stream} {names.get(household or '', '-')}"
            per_key.setdefault(key, []).append({"type": envelope.get("type"), "data": payload})
    # Other ids are named by first appearance, walking the keys in a fixed order.
    counter = 0

    def rename(value: Any) -> Any:
        nonlocal counter
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, str):
            if _DATETIME.match(value):
                return "<time>"
            if _LINKAGE_HASH.match(value):
                if value not in names:
                    counter += 1
                    names[value] = f"L{counter}"
                return names[value]

            def name(match: re.Match[str]) -> str:
                nonlocal counter
                uid = match.group(0)
                if uid not in names:
                    counter += 1
                    names[uid] = f"U{counter}"
                return names[uid]

            return _UUID.sub(name, value)
        return value

    return {key: rename(per_key[key]) for key in sorted(per_key)}


def offered_units(raw: dict[str, list[bytes]]) -> Counter[str]:
    """How many times each unit was offered (by unit id): never twice while the first offer stands,
    and in these feeds no offer is declined or expires, so never twice at all."""
    offers: Counter[str] = Counter()
    for data in raw.get("RESETTLEMENT", []):
        envelope = json.loads(data)
        if envelope.get("type") in RANDOM_UNIT_TYPES:
            offers[envelope["data"]["unit_id"]] += 1
    return offers


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def differences(expected: Outcome, actual: Outcome, limit: int = 5) -> list[str]:
    """Readable differences: which (stream, household) differs, and the first event that does."""
    found = []
    for key in sorted(set(expected) | set(actual)):
        a, b = expected.get(key, []), actual.get(key, [])
        if a == b:
            continue
        first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        found.append(
            f"{key}: {len(a)} events without faults, {len(b)} with; first difference at #{first}:\n"
            f"  without: {json.dumps(a[first] if first < len(a) else None, sort_keys=True)[:600]}\n"
            f"  with:    {json.dumps(b[first] if first < len(b) else None, sort_keys=True)[:600]}"
        )
        if len(found) >= limit:
            break
    return found


def counts(result: Outcome) -> dict[str, int]:
    """Events per stream and type, for the report."""
    totals: Counter[str] = Counter()
    for key, events in result.items():
        stream = key.split(" ")[0]
        for event in events:
            totals[f"{stream} {event.get('type', 'dead letter')}"] += 1
    return dict(sorted(totals.items()))
