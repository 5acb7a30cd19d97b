"""From eligibility's check request to one published result per city, in process: the inbox handler
(idempotent, quick, no I/O), the worker asking peers, the translator's contract events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import UUID, uuid4

import httpx
from eventsourcing.persistence import Tracking

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.eligibility import CrossRegionCheckRequested, CrossRegionCheckRequestedV2
from contracts.envelope import Envelope
from contracts.federation import CrossRegionResultRecorded
from federation.application import FederationApp
from federation.domain import CrossRegionCheck
from federation.handlers import CHECK_REQUESTED, RESULT_RECORDED, on_check_requested, translate
from federation.outbound import PeerClient
from federation.peers import load_directory
from federation.settings import FederationSettings
from federation.worker import OutboundWorker
from services.kit import clock
from services.kit.codec import Incoming
from services.kit.uow import UnitOfWork
from tests.federation.conftest import Demo
from tests.federation.test_outbound import answer

CHECK_REQUESTED_V1 = EVENTS_BY_TYPE[(CHECK_REQUESTED.type, 1)]
LEGAL_BASIS = "Foshan public rental housing measures, art. 27"


def deliver(app: FederationApp, request: CrossRegionCheckRequested, sequence: int) -> None:
    """Eligibility's request as the inbox hands it to the handler: v2 when it carries subjects."""
    spec = CHECK_REQUESTED if isinstance(request, CrossRegionCheckRequestedV2) else CHECK_REQUESTED_V1
    envelope = Envelope.model_validate(
        {
            "specversion": "1.0",
            "id": str(uuid4()),
            "source": "/housing/eligibility",
            "type": spec.type,
            "subject": str(request.household_id),
            "time": clock.now().isoformat(),
            "datacontenttype": "application/json",
            "dataschema": spec.dataschema,
            "data": request.model_dump(mode="json"),
        }
    )
    uow = UnitOfWork(app)
    on_check_requested(Incoming(spec, envelope, request, "ELIGIBILITY", sequence), uow)
    uow.commit(Tracking("inbox:ELIGIBILITY", sequence))


def check_request(
    demo: Demo, household: UUID, cities: list[str], hashed: dict[str, str]
) -> CrossRegionCheckRequestedV2:
    """A v2 request as eligibility sends it: one member, hashed for each city of `hashed` (city → ID
    number) under the pair's key (the demo's single key, id "1")."""
    member = uuid4()
    subjects = [
        {
            "member_id": str(member),
            "city": city,
            "key_id": "1",
            "id_hash": demo.hash_for("CN-FS", city, number),
        }
        for city, number in hashed.items()
    ]
    return CrossRegionCheckRequestedV2.model_validate(
        {
            "household_id": str(household),
            "check_id": str(uuid4()),
            "cities": cities,
            "purpose": "exit-review",
            "legal_basis": LEGAL_BASIS,
            "subjects": subjects,
        }
    )


def ask_peers(app: FederationApp, demo: Demo, settings: FederationSettings, check_id: UUID) -> None:
    """The outbound worker picks the one open check up and asks its cities (peers answered in process)."""

    def peers(request: httpx.Request) -> httpx.Response:
        return answer(demo)(request)

    async def work() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(peers)) as http:
            directory = load_directory(settings.federation_peers_file, "CN-FS")
            worker = OutboundWorker(app, PeerClient(settings, directory, demo.key("CN-FS"), http))
            opened = worker._open_checks()
            assert [aggregate_id for _, aggregate_id in opened] == [CrossRegionCheck.create_id(check_id)]
            await worker.process(opened[0][1])

    asyncio.run(work())


def results_published(app: FederationApp, household: UUID) -> dict[str, CrossRegionResultRecorded]:
    """The contract events the relay publishes from the store, by city; all about `household`."""
    published = [
        out
        for n in app.notification_log.select(start=1, limit=100)
        for out in translate(app.mapper.to_domain_event(n))
    ]
    assert all(out.spec is RESULT_RECORDED and out.subject_id == str(household) for out in published)
    return {
        out.payload.city: out.payload
        for out in published
        if isinstance(out.payload, CrossRegionResultRecorded)
    }


def test_a_check_becomes_one_result_per_city(demo: Demo, tmp_path: Path) -> None:
    settings = demo.settings("CN-FS", tmp_path, federation_retry_base_s=0.01, federation_peer_attempts=1)
    app = FederationApp(settings, demo.env("CN-FS", tmp_path))
    household = uuid4()
    # No Dongguan hash: eligibility shares no current key with it (a city without a subject).
    request = check_request(demo, household, ["CN-GZ", "CN-DG"], {"CN-GZ": "DEMO-4406-0003"})
    deliver(app, request, 1)
    deliver(app, request, 2)  # a redelivered request opens nothing new
    ask_peers(app, demo, settings, request.check_id)
    check = app.check(request.check_id)
    assert check is not None and check.results == {"CN-GZ": "match", "CN-DG": "unverified"}
    assert check.subjects == [s.model_dump(mode="json") for s in request.subjects]
    results = results_published(app, household)
    assert results["CN-GZ"].holds_subsidised_housing is True and len(results["CN-GZ"].query_ids) == 1
    assert results["CN-DG"].result == "unverified" and results["CN-DG"].reason == "no subject hash for CN-DG"
    assert isinstance(results["CN-DG"].check_id, UUID)
    app.close()


def test_a_v1_request_has_no_subjects_and_each_city_is_unverified(demo: Demo, tmp_path: Path) -> None:
    """A request stored before v2 names the household only: federation never asks a peer without a
    subject (nor says "clear"), every city is `unverified`."""
    settings = demo.settings("CN-FS", tmp_path, federation_retry_base_s=0.01, federation_peer_attempts=1)
    app = FederationApp(settings, demo.env("CN-FS", tmp_path))
    request = CrossRegionCheckRequested(
        household_id=uuid4(),
        check_id=uuid4(),
        cities=["CN-GZ", "CN-DG"],
        purpose="exit-review",
        legal_basis=LEGAL_BASIS,
    )
    deliver(app, request, 1)
    ask_peers(app, demo, settings, request.check_id)
    results = results_published(app, request.household_id)
    assert {(city, r.result, r.reason) for city, r in results.items()} == {
        (city, "unverified", f"no subject hash for {city}") for city in ("CN-GZ", "CN-DG")
    }
    assert all(not r.query_ids for r in results.values()), "no peer was asked"
    app.close()


def test_the_relay_passes_over_every_topic_but_concluded_verdicts() -> None:
    """Answered exchanges are most of the log: the relay must not decode them to publish nothing."""
    from eventsourcing.utils import get_topic

    from federation.domain import InboundExchange

    assert get_topic(CrossRegionCheck.PeerConcluded) not in translate.silent_topics
    assert get_topic(InboundExchange.Answered) in translate.silent_topics
    assert get_topic(CrossRegionCheck.Opened) in translate.silent_topics
