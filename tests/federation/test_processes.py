"""Cities as real processes (`python -m federation`, each with its own keys, directory, data and store)
on a real nats-server: signed queries and bound answers between them; eligibility's check request
over the bus becomes one published result per peer; a peer that is down is `unverified`."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest

from contracts.eligibility import CrossRegionCheckRequestedV2
from contracts.federation import CrossRegionResultRecorded
from federation.handlers import CHECK_REQUESTED
from federation.outbound import Case, PeerClient
from federation.peers import load_directory
from services.kit.bus import connect, ensure_streams
from services.kit.clock import system_clock
from services.kit.codec import Outgoing, encode
from tests.conftest import wait_until
from tests.federation.conftest import Demo, city_process, query, signed
from tests.support.identity import as_operator
from tests.support.nats import NatsServer
from tests.support.processes import REPO, ServiceProcess

CASE = Case("exit-review", "Foshan public rental housing measures, art. 27", "FS-2026-0042", "officer.wang")


@pytest.fixture
def cities(demo: Demo, tmp_path: Path, nats_server: NatsServer) -> Iterator[dict[str, ServiceProcess]]:
    """Foshan and Guangzhou running; Dongguan is in the directories but down."""

    async def streams() -> None:
        nc = await connect(nats_server.url, "test", identity="admin")
        await ensure_streams(nc.jetstream())
        await nc.close()

    asyncio.run(streams())
    running = {
        city: city_process(demo, city, tmp_path, nats_server.url).start() for city in ("CN-FS", "CN-GZ")
    }
    try:
        for process in running.values():
            process.wait_ready()
        yield running
    finally:
        for process in running.values():
            process.stop()


def client_as(demo: Demo, city: str, tmp: Path) -> PeerClient:
    settings = demo.settings(city, tmp, federation_peer_attempts=1)
    return PeerClient(settings, load_directory(settings.federation_peers_file, city), demo.key(city))


def test_two_cities_answer_each_others_signed_queries(
    cities: dict[str, ServiceProcess], demo: Demo, tmp_path: Path
) -> None:
    """Our outbound client (signing, answer verification and binding) against real processes."""

    async def exchange() -> None:
        as_gz, as_fs = client_as(demo, "CN-GZ", tmp_path), client_as(demo, "CN-FS", tmp_path)
        housed_in_fs = demo.hash_for("CN-GZ", "CN-FS", "DEMO-4406-0001")
        outcome = await as_gz.ask("CN-FS", CASE, [housed_in_fs])
        assert (outcome.result, outcome.reason) == ("match", None)
        assert outcome.categories["holds_subsidised_housing"] is True
        assert outcome.exchanges[0]["verified"] == {"city": "CN-FS", "key_id": "CN-FS-demo-1"}

        both = [demo.hash_for("CN-FS", "CN-GZ", n) for n in ("DEMO-4406-0004", "DEMO-NOBODY")]
        outcome = await as_fs.ask("CN-GZ", CASE, both)  # two subjects: the batch endpoint
        assert outcome.result == "match" and outcome.categories["receives_housing_subsidy"] is True
        nobody = await as_fs.ask("CN-GZ", CASE, [demo.hash_for("CN-FS", "CN-GZ", "DEMO-NOBODY")])
        assert nobody.result == "no_match"
        down = await as_fs.ask("CN-DG", CASE, [demo.hash_for("CN-FS", "CN-DG", "DEMO-4406-0005")])
        assert down.result == "unverified" and "unreachable" in (down.reason or "")
        await as_gz.client.aclose()
        await as_fs.client.aclose()

    asyncio.run(exchange())
    auditor = as_operator("auditor.sun", "auditor", "federation-cn-fs")
    url = f"{demo.base_url('CN-FS')}/federation/v1/exchanges"
    exchanges = httpx.get(url, headers=auditor, timeout=5).json()["items"]
    assert any(e["kind"] == "Answered" and e["city"] == "CN-GZ" for e in exchanges)
    assert cities["CN-GZ"].metric('federation_inbound_queries_total{peer="CN-FS"}') == 3
    for process in cities.values():
        assert "DEMO-4406" not in process.tail(10_000), "an ID number reached a log"
    topics = {
        row[0]
        for row in sqlite3.connect(tmp_path / "CN-FS.sqlite").execute("SELECT topic FROM stored_events")
    }
    assert topics and all(topic.startswith("federation.") for topic in topics), topics


def test_a_check_request_on_the_bus_yields_one_result_per_peer(
    cities: dict[str, ServiceProcess], demo: Demo, tmp_path: Path, nats_server: NatsServer
) -> None:
    household, member, check = uuid4(), uuid4(), uuid4()
    id_number = "DEMO-4406-0003"  # housed in Guangzhou
    # What eligibility sends (v2): the member hashed for each city it shares a key with; Zhongshan is
    # not in the demo's directories, so it has no subject.
    subjects = [
        {
            "member_id": str(member),
            "city": city,
            "key_id": "1",
            "id_hash": demo.hash_for("CN-FS", city, id_number),
        }
        for city in ("CN-GZ", "CN-DG")
    ]
    fs = demo.base_url("CN-FS")
    request = CrossRegionCheckRequestedV2.model_validate(
        {
            "household_id": str(household),
            "check_id": str(check),
            "cities": ["CN-GZ", "CN-DG", "CN-ZS"],
            "purpose": "exit-review",
            "legal_basis": "Foshan public rental housing measures, art. 27",
            "subjects": subjects,
        }
    )

    async def publish_and_collect() -> list[CrossRegionResultRecorded]:
        nc = await connect(nats_server.url, "test", identity="admin")
        js = nc.jetstream()
        data = encode(
            Outgoing(CHECK_REQUESTED, str(household), request),
            event_id=str(uuid4()),
            source="/housing/eligibility",
            time=system_clock(),  # the processes' clock: the machine's
        )
        await js.publish(CHECK_REQUESTED.subject, data, headers={"Nats-Msg-Id": f"test:{check}"})
        sub = await js.subscribe("housing.federation.>", ordered_consumer=True)
        results: list[CrossRegionResultRecorded] = []
        while len(results) < 3:
            msg = await sub.next_msg(timeout=30)
            envelope = json.loads(msg.data)
            assert envelope["type"] == "housing.federation.cross-region-result-recorded"
            assert envelope["subject"] == str(household)
            results.append(CrossRegionResultRecorded.model_validate(envelope["data"]))
        await nc.close()
        return results

    results = {r.city: r for r in asyncio.run(publish_and_collect())}
    assert {r.check_id for r in results.values()} == {check}
    assert results["CN-GZ"].result == "match" and results["CN-GZ"].holds_subsidised_housing is True
    assert results["CN-DG"].result == "unverified" and "unreachable" in (results["CN-DG"].reason or "")
    assert results["CN-ZS"].result == "unverified" and "directory" in (results["CN-ZS"].reason or "")
    operator = as_operator("auditor.sun", "auditor", "federation-cn-fs")
    status = httpx.get(f"{fs}/federation/v1/checks/{check}", headers=operator, timeout=5).json()
    assert status["pending"] == [] and status["results"]["CN-GZ"] == "match"

    # Every exchange is in the hash-chained audit log, which verifies.
    audit = tmp_path / "CN-FS-audit.jsonl"
    wait_until(lambda: audit.exists() and "PeerConcluded" in audit.read_text(), message="audit lines")
    verify = [sys.executable, "-m", "federation", "verify-audit", str(audit)]
    env = {**os.environ, **cities["CN-FS"].env}  # Foshan's environment: its store anchors the log's end
    done = subprocess.run(verify, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "chain intact" in done.stdout
    assert UUID(str(check))


def test_a_nonce_is_refused_after_the_process_restarts(
    cities: dict[str, ServiceProcess], demo: Demo, tmp_path: Path
) -> None:
    body = query(demo)
    raw, headers = signed(demo, body)
    url = demo.base_url("CN-FS") + "/federation/v1/household-status"
    assert httpx.post(url, content=raw, headers=headers.items(), timeout=5).status_code == 200
    foshan = cities["CN-FS"]
    foshan.stop()
    foshan.start().wait_ready()
    replay = httpx.post(url, content=raw, headers=headers.items(), timeout=5)
    assert replay.status_code == 401 and replay.json()["type"].endswith("replayed-nonce")
