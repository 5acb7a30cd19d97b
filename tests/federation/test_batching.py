"""The cross-region sweep in batches: the outbound worker coalesces the sweep's checks
(`eligibility-review`) into one signed batch request per peer for up to 100 subjects of several
households, maps the answers back to each check by query id, and stores the batch's raw exchange
once (`BatchExchange`), which every verdict of it names. A review case's checks (`exit-review`) are
still asked one request per check, under their own case id.

Foshan runs in process (its own store, the real outbound worker and peer client over real HTTP);
Guangzhou is a real `python -m federation` process on a nats-server of the test's own, answering from
its data file; Dongguan is in the directories but down. The mock-transport tests at the end check the
batches' shape (households never split) and a rejected answer, without a process."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from contracts.envelope import Envelope
from contracts.federation import CrossRegionResultRecorded
from federation.application import FederationApp
from federation.audit import AuditWriter, verify_audit
from federation.domain import BatchExchange, CrossRegionCheck
from federation.handlers import CHECK_REQUESTED, on_check_requested, translate
from federation.outbound import PeerClient
from federation.peers import load_directory
from federation.settings import FederationSettings
from federation.signing import Headers, sign_response, signature_of
from federation.worker import OutboundWorker
from services.kit import clock
from services.kit.codec import Incoming
from services.kit.uow import UnitOfWork
from tests.federation.conftest import Demo
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually

SWEEP = "eligibility-review"
REVIEW = "exit-review"
LEGAL_BASIS = "Guangdong cross-region housing security cooperation agreement"
HOLDS_IN_GZ = "DEMO-4406-0003"  # Guangzhou's register: holds subsidised housing
SUBSIDISED_IN_GZ = "DEMO-4406-0004"  # receives a housing subsidy there
CONCLUDED = get_topic(CrossRegionCheck.PeerConcluded)
BATCH_ASKED = get_topic(BatchExchange.Asked)
Household = list[str]
"""A household's members, by (fictitious) ID number."""


def deliver(app: FederationApp, request: dict[str, Any], sequence: int) -> None:
    """Eligibility's check request (v2) as the inbox hands it to federation's handler."""
    envelope = Envelope.model_validate(
        {
            "specversion": "1.0",
            "id": str(uuid4()),
            "source": "/housing/eligibility",
            "type": CHECK_REQUESTED.type,
            "subject": request["household_id"],
            "time": clock.now().isoformat(),
            "datacontenttype": "application/json",
            "dataschema": CHECK_REQUESTED.dataschema,
            "data": request,
        }
    )
    payload = CHECK_REQUESTED.payload.model_validate(request)
    uow = UnitOfWork(app)
    on_check_requested(Incoming(CHECK_REQUESTED, envelope, payload, "ELIGIBILITY", sequence), uow)
    uow.commit(Tracking("inbox:ELIGIBILITY", sequence))


def open_checks(
    app: FederationApp, demo: Demo, households: list[Household], purpose: str, city: str = "CN-GZ"
) -> list[UUID]:
    """One check per household asking `city` about its members (hashed under the pair's key, as
    eligibility sends them); their check ids, in order."""
    start = (app.process_recorder.max_tracking_id("inbox:ELIGIBILITY") or 0) + 1
    checks = []
    for sequence, members in enumerate(households, start=start):
        request: dict[str, Any] = {
            "household_id": str(uuid4()),
            "check_id": str(uuid4()),
            "cities": [city],
            "purpose": purpose,
            "legal_basis": LEGAL_BASIS,
            "subjects": [
                {
                    "member_id": str(uuid4()),
                    "city": city,
                    "key_id": "1",
                    "id_hash": demo.hash_for("CN-FS", city, number),
                }
                for number in members
            ],
        }
        deliver(app, request, sequence)
        checks.append(UUID(request["check_id"]))
    return checks


def foshan(
    demo: Demo, tmp_path: Path, name: str, **overrides: Any
) -> tuple[FederationApp, FederationSettings]:
    settings = demo.settings("CN-FS", tmp_path, federation_retry_base_s=0.01, **overrides)
    app = FederationApp(settings, {**demo.env("CN-FS", tmp_path), "SQLITE_DBNAME": str(tmp_path / name)})
    return app, settings


def run_worker(
    app: FederationApp,
    settings: FederationSettings,
    demo: Demo,
    checks: list[UUID],
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """The outbound worker, from the log's start, until every check is concluded."""

    def all_concluded() -> bool:
        return all((c := app.check(check_id)) is not None and not c.pending_cities for check_id in checks)

    async def work() -> None:
        async with httpx.AsyncClient(transport=transport, timeout=10) as http:
            directory = load_directory(settings.federation_peers_file, "CN-FS")
            worker = OutboundWorker(app, PeerClient(settings, directory, demo.key("CN-FS"), http))
            stop = asyncio.Event()
            running = asyncio.create_task(worker.run(stop))
            try:
                await eventually(all_concluded, "every check concluded", deadline_s=120, interval_s=0.05)
            finally:
                stop.set()
                await running

    asyncio.run(work())


def stored(app: FederationApp, topic: str | None = None) -> list[Any]:
    """The stored events of `topic` (default: all), in order."""
    events: list[Any] = []
    start = 1
    while page := app.notification_log.select(start=start, limit=500, topics=[topic] if topic else []):
        events.extend(app.mapper.to_domain_event(n) for n in page)
        start = page[-1].id + 1
    return events


def verdicts(app: FederationApp) -> dict[UUID, CrossRegionCheck.PeerConcluded]:
    found: dict[UUID, CrossRegionCheck.PeerConcluded] = {}
    for event in stored(app, CONCLUDED):
        assert event.check_id not in found, "one verdict per check and city"
        found[event.check_id] = event
    return found


def sent_bodies(exchanges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(e["request"]["body"]) for e in exchanges]


def requests_answered(tmp_path: Path) -> list[dict[str, Any]]:
    """The body of every signed request Guangzhou answered (its stored exchanges: what it can hold
    against us), one per request."""
    with sqlite3.connect(tmp_path / "CN-GZ.sqlite") as db:
        rows = db.execute("SELECT state FROM stored_events WHERE topic LIKE '%InboundExchange.Answered'")
        states = [json.loads(state) for (state,) in rows]
    return [json.loads(state["request"]["body"]) for state in states]


def test_a_sweep_is_asked_in_batches_and_each_check_gets_its_own_verdict(
    guangzhou: ServiceProcess, demo: Demo, tmp_path: Path
) -> None:
    # 250 sweep households of two members; every 10th has a member Guangzhou's register knows (held
    # housing, or, every 30th, a subsidy there): those `match`, the others `no_match`. Five review
    # cases' checks besides. A linger far longer than the checks take to come in: the batches are
    # sent full (the last one is full as well: 500 subjects), so their number does not depend on
    # the machine's speed.
    app, settings = foshan(demo, tmp_path, "sweep.sqlite", federation_batch_linger_s=5.0)
    households: list[Household] = []
    expected: list[str] = []
    for n in range(250):
        members = [f"DEMO-NOBODY-{n:04d}-A", f"DEMO-NOBODY-{n:04d}-B"]
        if n % 10 == 0:
            members[1] = SUBSIDISED_IN_GZ if n % 30 == 0 else HOLDS_IN_GZ
        households.append(members)
        expected.append("match" if n % 10 == 0 else "no_match")
    sweep = open_checks(app, demo, households, SWEEP)
    review_households = [[HOLDS_IN_GZ, "DEMO-NOBODY-R1"], ["DEMO-NOBODY-R2"]] * 2 + [["DEMO-NOBODY-R3"]]
    reviews = open_checks(app, demo, review_households, REVIEW)
    answered_before = guangzhou.metric('federation_inbound_queries_total{peer="CN-FS"}')
    try:
        run_worker(app, settings, demo, sweep + reviews)

        # Guangzhou answered ceil(500 / 100) = 5 batch requests for the sweep, and one request per
        # review check; every subject was asked once.
        answered = requests_answered(tmp_path)
        batch_cases = [body["case_id"] for body in answered if body["case_id"].startswith("sweep-")]
        assert len(batch_cases) == math.ceil(500 / 100), batch_cases
        assert sorted(body["case_id"] for body in answered if body["case_id"].startswith("check-")) == sorted(
            f"check-{check_id}" for check_id in reviews
        )
        assert len(answered) == len(batch_cases) + len(reviews)
        asked = guangzhou.metric('federation_inbound_queries_total{peer="CN-FS"}') - answered_before
        assert asked == 500 + sum(len(members) for members in review_households)

        # Each batch: one case of its own (the sweep's purpose, officer federation-service), at most
        # 100 subjects, whole households; stored once, with the signed request and verified answer.
        batches = {b.batch_id: b for b in stored(app, BATCH_ASKED)}
        assert len(batches) == 5
        for batch in batches.values():
            (body,) = sent_bodies(batch.exchanges)
            assert body["case_id"] == batch.case_id == f"sweep-{batch.batch_id}"
            assert (body["purpose"], body["officer_id"]) == (SWEEP, "federation-service")
            assert len(body["subjects"]) == 100
            assert [s["query_id"] for s in body["subjects"]] == [
                q for c in batch.checks for q in c["query_ids"]
            ]
            assert batch.exchanges[0]["verified"] == {"city": "CN-GZ", "key_id": "CN-GZ-demo-1"}
            assert batch.exchanges[0]["response"]["status"] == 200
        in_batches = {
            UUID(c["check_id"]): (batch_id, c["query_ids"])
            for batch_id, b in batches.items()
            for c in b.checks
        }
        assert set(in_batches) == set(sweep), "every sweep check in exactly one batch"

        # Every check concluded with its own members' verdict, naming its batch and its queries.
        found = verdicts(app)
        for check_id, result in zip(sweep, expected, strict=True):
            verdict = found[check_id]
            batch_id, query_ids = in_batches[check_id]
            assert (verdict.result, verdict.reason) == (result, None), check_id
            assert len(verdict.query_ids) == 2 and verdict.query_ids == query_ids
            assert verdict.exchanges == [{"batch": str(batch_id), "query_ids": query_ids}]
        subsidised = [found[c] for n, c in enumerate(sweep) if n % 30 == 0]
        assert all(v.categories["receives_housing_subsidy"] is True for v in subsidised)
        assert all(v.categories["holds_subsidised_housing"] is False for v in subsidised)

        # A review case's check: asked alone under its own case id, its raw exchange kept in it.
        for check_id, result in zip(
            reviews, ["match", "no_match", "match", "no_match", "no_match"], strict=True
        ):
            verdict = found[check_id]
            assert verdict.result == result
            (body,) = sent_bodies(verdict.exchanges)
            assert (body["case_id"], body["purpose"]) == (f"check-{check_id}", REVIEW)

        # The relay publishes one result per check (the batches publish nothing), and the audit
        # chain takes the batches in like every other stored event.
        published = [out.payload for event in stored(app) for out in translate(event)]
        assert sorted(p.check_id for p in published if isinstance(p, CrossRegionResultRecorded)) == sorted(
            sweep + reviews
        )
        assert BATCH_ASKED in translate.silent_topics
        audit = tmp_path / "sweep-audit.jsonl"
        assert AuditWriter(app, audit).write_pending() == app.process_recorder.max_notification_id()
        assert "BatchExchange.Asked" in audit.read_text()
        report = verify_audit(audit, app)
        assert report.first_broken is None, report.reason
    finally:
        app.close()


def test_a_peer_down_concludes_every_check_of_its_batches_unverified(demo: Demo, tmp_path: Path) -> None:
    """Dongguan does not answer: each batch fails after its attempts (or finds the circuit open),
    and every check in it is `unverified` with the reason, never `no_match`."""
    app, settings = foshan(
        demo, tmp_path, "down.sqlite", federation_peer_attempts=2, federation_outbound_batch_max=20
    )
    try:
        checks = open_checks(
            app, demo, [[f"DEMO-NOBODY-{n}-A", f"DEMO-NOBODY-{n}-B"] for n in range(30)], SWEEP, "CN-DG"
        )
        run_worker(app, settings, demo, checks)
        found = verdicts(app)
        assert {found[c].result for c in checks} == {"unverified"}
        reasons = {found[c].reason or "" for c in checks}
        assert all(
            "CN-DG unreachable after 2 attempts" in r or "circuit open for CN-DG" in r for r in reasons
        )
        assert any("unreachable" in r for r in reasons)
        for batch in stored(app, BATCH_ASKED):  # a batch that was sent keeps its failed attempts
            assert batch.exchanges and all("error" in e and "response" not in e for e in batch.exchanges)
            assert all(len(json.loads(e["request"]["body"])["subjects"]) <= 20 for e in batch.exchanges)
        named = {c: found[c].exchanges for c in checks if found[c].exchanges}
        assert named, "the checks of a batch sent name it"
        assert all(refs[0]["batch"] for refs in named.values())
    finally:
        app.close()


# Without a process: Guangzhou answered by a mock transport.

Register = dict[str, dict[str, bool | None]]


def peer(
    demo: Demo, register: Register, seen: list[dict[str, Any]], *, key_of: str = "CN-GZ"
) -> Callable[[httpx.Request], httpx.Response]:
    """Guangzhou answering batches and single queries from `register` (hash → categories; anyone
    else all false), signed with `key_of`'s key; every request body is noted in `seen`."""
    nobody: dict[str, bool | None] = dict.fromkeys(
        ("holds_subsidised_housing", "receives_housing_subsidy", "owns_property_over_threshold"), False
    )

    def one(query_id: str, id_hash: str) -> dict[str, Any]:
        return {
            "query_id": query_id,
            "responding_city": "CN-GZ",
            "as_of": clock.now().isoformat(),
            **register.get(id_hash, nobody),
            "contact_reference": "CN-GZ/desk/1",
        }

    def respond(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        if "subjects" in body:
            document: dict[str, Any] = {
                "batch_id": body["batch_id"],
                "responding_city": "CN-GZ",
                "as_of": clock.now().isoformat(),
                "answers": [one(s["query_id"], s["id_hash"]) for s in body["subjects"]],
            }
        else:
            document = one(body["query_id"], body["id_hash"])
        raw = json.dumps(document).encode()
        signature = signature_of(Headers(request.headers.multi_items()))
        headers = sign_response(demo.key(key_of), "CN-GZ", 200, raw, signature)
        return httpx.Response(200, content=raw, headers=headers.items())

    return respond


def test_households_are_never_split_across_batches(demo: Demo, tmp_path: Path) -> None:
    """Batches of at most 5 subjects and households of 2: two households a batch (a third would not
    fit whole), each check concluded from its own members' answers; a household whose member is
    unknown to the peer (null) is `unverified`, the others of its batch are not."""
    app, settings = foshan(
        demo, tmp_path, "split.sqlite", federation_outbound_batch_max=5, federation_batch_linger_s=1.0
    )
    unknown = demo.hash_for("CN-FS", "CN-GZ", "DEMO-UNKNOWN")
    housed = demo.hash_for("CN-FS", "CN-GZ", HOLDS_IN_GZ)
    register: Register = {
        unknown: {
            "holds_subsidised_housing": None,
            "receives_housing_subsidy": False,
            "owns_property_over_threshold": False,
        },
        housed: {
            "holds_subsidised_housing": True,
            "receives_housing_subsidy": False,
            "owns_property_over_threshold": False,
        },
    }
    seen: list[dict[str, Any]] = []
    households = [[f"DEMO-NOBODY-{n}-A", f"DEMO-NOBODY-{n}-B"] for n in range(7)]
    households[2][0], households[5][1] = "DEMO-UNKNOWN", HOLDS_IN_GZ
    try:
        checks = open_checks(app, demo, households, SWEEP)
        run_worker(app, settings, demo, checks, httpx.MockTransport(peer(demo, register, seen)))
        # 7 households: 2 + 2 + 2 + 1 (the last one sent when its linger is over)
        assert sorted(len(body["subjects"]) for body in seen) == [2, 4, 4, 4]
        found = verdicts(app)
        for body in seen:
            asked = {s["query_id"] for s in body.get("subjects", [body])}
            whole = [c for c in checks if set(found[c].query_ids) & asked]
            assert all(set(found[c].query_ids) <= asked for c in whole), "a household split"
        results = [found[c].result for c in checks]
        assert results == ["no_match", "no_match", "unverified", "no_match", "no_match", "match", "no_match"]
        assert found[checks[2]].reason == "a category is unknown to the peer"
    finally:
        app.close()


def test_a_rejected_batch_answer_is_every_checks_unverified(demo: Demo, tmp_path: Path) -> None:
    """An answer signed by another city's key: no check of the batch takes anything from it."""
    app, settings = foshan(demo, tmp_path, "forged.sqlite")
    seen: list[dict[str, Any]] = []
    try:
        checks = open_checks(
            app, demo, [[HOLDS_IN_GZ, "DEMO-NOBODY-1"], ["DEMO-NOBODY-2", "DEMO-NOBODY-3"]], SWEEP
        )
        run_worker(app, settings, demo, checks, httpx.MockTransport(peer(demo, {}, seen, key_of="CN-DG")))
        found = verdicts(app)
        assert {found[c].result for c in checks} == {"unverified"}
        assert all((found[c].reason or "").startswith("answer rejected") for c in checks)
        (batch,) = stored(app, BATCH_ASKED)
        assert {UUID(c["check_id"]) for c in batch.checks} == set(checks)
        assert "verified" not in batch.exchanges[0]
    finally:
        app.close()


def test_a_lone_sweep_check_is_not_held_back_and_unbatched_purposes_go_alone(
    demo: Demo, tmp_path: Path
) -> None:
    """A sweep check alone is sent once the linger is over, not held back waiting for company; with
    no batchable purposes (the benchmark's unbatched run), each sweep check is asked alone under its
    own case id and no batch is stored."""
    app, settings = foshan(demo, tmp_path, "lone.sqlite")
    seen: list[dict[str, Any]] = []
    try:
        (check,) = open_checks(app, demo, [["DEMO-NOBODY-1", "DEMO-NOBODY-2"]], SWEEP)
        run_worker(app, settings, demo, [check], httpx.MockTransport(peer(demo, {}, seen)))
        (body,) = seen
        assert body["case_id"].startswith("sweep-") and len(body["subjects"]) == 2
        assert verdicts(app)[check].result == "no_match"
    finally:
        app.close()

    app, settings = foshan(demo, tmp_path, "unbatched.sqlite", federation_batch_purposes=[])
    seen.clear()
    try:
        checks = open_checks(app, demo, [["DEMO-NOBODY-1", "DEMO-NOBODY-2"], ["DEMO-NOBODY-3"]], SWEEP)
        run_worker(app, settings, demo, checks, httpx.MockTransport(peer(demo, {}, seen)))
        assert sorted(body["case_id"] for body in seen) == sorted(f"check-{c}" for c in checks)
        assert not stored(app, BATCH_ASKED)
        found = verdicts(app)
        assert [found[c].result for c in checks] == ["no_match", "no_match"]
        assert all(sent_bodies(found[c].exchanges) for c in checks), "the raw exchange in the verdict"
    finally:
        app.close()
