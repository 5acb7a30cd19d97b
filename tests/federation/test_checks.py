"""From eligibility's check request to one published result per city, in process: the inbox handler
(idempotent, quick, no I/O), the worker asking peers, the translator's contract events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import UUID, uuid4

import httpx
from eventsourcing.persistence import Tracking

from contracts.eligibility import CrossRegionCheckRequested
from contracts.envelope import Envelope
from contracts.federation import CrossRegionResultRecorded
from federation.application import FederationApp
from federation.domain import CrossRegionCheck
from federation.handlers import CHECK_REQUESTED, RESULT_RECORDED, on_check_requested, translate
from federation.outbound import PeerClient
from federation.peers import load_directory
from federation.worker import OutboundWorker
from services.kit import clock
from services.kit.codec import Incoming
from services.kit.uow import UnitOfWork
from tests.federation.conftest import Demo
from tests.federation.test_outbound import answer


def deliver(app: FederationApp, request: CrossRegionCheckRequested, sequence: int) -> None:
    envelope = Envelope.model_validate(
        {
            "specversion": "1.0",
            "id": str(uuid4()),
            "source": "/housing/eligibility",
            "type": CHECK_REQUESTED.type,
            "subject": str(request.household_id),
            "time": clock.now().isoformat(),
            "datacontenttype": "application/json",
            "dataschema": CHECK_REQUESTED.dataschema,
            "data": request.model_dump(mode="json"),
        }
    )
    uow = UnitOfWork(app)
    on_check_requested(Incoming(CHECK_REQUESTED, envelope, request, "ELIGIBILITY", sequence), uow)
    uow.commit(Tracking("inbox:ELIGIBILITY", sequence))


def test_a_check_becomes_one_result_per_city(demo: Demo, tmp_path: Path) -> None:
    settings = demo.settings("CN-FS", tmp_path, federation_retry_base_s=0.01, federation_peer_attempts=1)
    app = FederationApp(settings, demo.env("CN-FS", tmp_path))
    household, member = uuid4(), uuid4()
    subject = demo.hash_for("CN-FS", "CN-GZ", "DEMO-4406-0003")
    app.record_subjects(household, [{"member_id": str(member), "city": "CN-GZ", "id_hash": subject}])
    request = CrossRegionCheckRequested(
        household_id=household,
        check_id=uuid4(),
        cities=["CN-GZ", "CN-DG"],  # no hash recorded for Dongguan
        purpose="exit-review",
        legal_basis="Foshan public rental housing measures, art. 27",
    )
    deliver(app, request, 1)
    deliver(app, request, 2)  # a redelivered request opens nothing new

    def peers(request: httpx.Request) -> httpx.Response:
        return answer(demo)(request)

    async def work() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(peers)) as http:
            directory = load_directory(settings.federation_peers_file, "CN-FS")
            worker = OutboundWorker(app, PeerClient(settings, directory, demo.key("CN-FS"), http))
            opened = worker._open_checks()
            assert [aggregate_id for _, aggregate_id in opened] == [
                CrossRegionCheck.create_id(request.check_id)
            ]
            await worker.process(opened[0][1])

    asyncio.run(work())
    check = app.check(request.check_id)
    assert check is not None and check.results == {"CN-GZ": "match", "CN-DG": "unverified"}
    published = [
        out
        for n in app.notification_log.select(start=1, limit=100)
        for out in translate(app.mapper.to_domain_event(n))
    ]
    results = {
        out.payload.city: out.payload
        for out in published
        if isinstance(out.payload, CrossRegionResultRecorded)
    }
    assert all(out.spec is RESULT_RECORDED and out.subject_id == str(household) for out in published)
    assert results["CN-GZ"].holds_subsidised_housing is True and len(results["CN-GZ"].query_ids) == 1
    assert results["CN-DG"].result == "unverified" and results["CN-DG"].reason == "no subject hash for CN-DG"
    assert isinstance(results["CN-DG"].check_id, UUID)
    app.close()


def test_the_relay_passes_over_every_topic_but_concluded_verdicts() -> None:
    """Answered exchanges are most of the log: the relay must not decode them to publish nothing."""
    from eventsourcing.utils import get_topic

    from federation.domain import InboundExchange

    assert get_topic(CrossRegionCheck.PeerConcluded) not in translate.silent_topics
    assert get_topic(InboundExchange.Answered) in translate.silent_topics
    assert get_topic(CrossRegionCheck.Opened) in translate.silent_topics
