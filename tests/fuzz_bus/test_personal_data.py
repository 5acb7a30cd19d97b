"""No ID numbers on the bus, as far as the consumers are concerned: a message that carries one is not
turned into a contract event, and what the platform writes about a refused message (the dead letter's
reason, its header, the log line) does not repeat it. The original bytes are kept whole in the dead
letter for replay: see docs/reliability.md on the DEADLETTER stream's retention."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from uuid import uuid4

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.envelope import DEADLETTER_REASON_HEADER
from tests.contracts.test_payloads import SAMPLES
from tests.fuzz_bus.bus import Bus
from tests.fuzz_bus.messages import Message, dump, envelope, expect
from tests.fuzz_bus.test_bus_fuzz import sentinel
from tests.support.nats import NatsServer

ID_NUMBER = "440602198001011234"  # the shape of a PRC resident identity card number (made up)
FACT = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]


def fact(**changes: object) -> dict[str, object]:
    payload: dict[str, object] = json.loads(json.dumps(SAMPLES[FACT.type]))
    payload["household_id"] = str(uuid4())
    payload.update(changes)
    return payload


async def refused(
    nats_server: NatsServer, tmp_path: Path, message: Message
) -> tuple[str, dict[str, str], str]:
    """Publish `message` and a sentinel to eligibility; return the dead letter's reason, headers and
    original bytes (it must be dead-lettered, and the sentinel handled after it)."""
    bus = await Bus.start(nats_server.url, tmp_path, names=["eligibility"])
    try:
        published = [await bus.publish(message), await bus.publish(sentinel("DEPARTMENT"))]
        await bus.settle(published, timeout=30)
        key = ("eligibility", "DEPARTMENT", published[0].sequence)
        assert key in bus.deadletters, "not dead-lettered"
        assert ("eligibility", "DEPARTMENT", published[1].sequence) not in bus.deadletters
        record = bus.deadletters[key]
        return record.reason, bus.deadletter_headers[key], base64.b64decode(record.original_data_b64).decode()
    finally:
        await bus.stop()


async def test_an_id_number_in_an_unknown_field_is_refused_and_not_repeated(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    document = envelope(FACT, {**fact(), "id_number": ID_NUMBER}, str(uuid4()), "2026-11-01T08:00:00+08:00")
    message = Message("DEPARTMENT", FACT.subject, dump(document), "unknown field")
    reason, headers, original = await refused(nats_server, tmp_path, message)
    assert "id_number" in reason
    assert ID_NUMBER not in reason and ID_NUMBER not in headers.get(DEADLETTER_REASON_HEADER, "")
    assert ID_NUMBER in original, "kept whole for diagnosis and replay"


async def test_an_id_number_in_the_envelope_type_is_not_repeated_in_the_reason(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    document = envelope(FACT, fact(), str(uuid4()), "2026-11-01T08:00:00+08:00")
    document["type"] = f"housing.department.{ID_NUMBER}"
    document["dataschema"] = f"urn:housing:schema:department.{ID_NUMBER}:v1"
    message = Message("DEPARTMENT", FACT.subject, dump(document), "unknown type")
    reason, headers, _ = await refused(nats_server, tmp_path, message)
    assert ID_NUMBER not in reason and ID_NUMBER not in headers.get(DEADLETTER_REASON_HEADER, "")


async def test_an_id_number_in_free_text_is_not_a_valid_contract_event(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    document = envelope(FACT, fact(reference=ID_NUMBER), str(uuid4()), "2026-11-01T08:00:00+08:00")
    message = Message("DEPARTMENT", FACT.subject, dump(document), "valid")
    assert not expect(message.subject, message.data).valid, "the contract accepts an ID number"
    reason, _, _ = await refused(nats_server, tmp_path, message)
    assert ID_NUMBER not in reason
