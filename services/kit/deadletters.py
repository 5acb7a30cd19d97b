"""Dead letters for operators: list them, and replay one once its cause is fixed.

A dead letter keeps the original message whole (subject, headers, body) beside the reason, so nothing
is lost; replaying publishes the original again on its original subject, where the consumer handles it
like any new message. A replay's `Nats-Msg-Id` names the dead letter, so replaying the same one twice
within the duplicate window publishes it once.

    python -m services.kit.deadletters list [--service eligibility] [--limit 50]
    python -m services.kit.deadletters replay <dead-letter sequence>
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.deadletter import DeadLetter
from contracts.envelope import MSG_ID_HEADER
from services.kit.bus import connect_as
from services.kit.busauth import ADMIN
from services.kit.settings import ServiceSettings

STREAM = "DEADLETTER"
HOP_HEADERS = {MSG_ID_HEADER, "Nats-Expected-Stream"}


@dataclass(frozen=True)
class Entry:
    sequence: int
    record: DeadLetter


async def list_deadletters(js: JetStreamContext, service: str | None = None, limit: int = 50) -> list[Entry]:
    """The first `limit` dead letters (of one service, or all), oldest first."""
    subject = f"housing.deadletter.{service}" if service else "housing.deadletter.>"
    entries: list[Entry] = []
    sequence = 1
    while len(entries) < limit:
        try:
            raw = await js.get_msg(STREAM, seq=sequence, subject=subject, next=True)
        except NotFoundError:
            break
        assert raw.seq is not None
        entries.append(Entry(raw.seq, DeadLetter.model_validate_json(raw.data or b"")))
        sequence = raw.seq + 1
    return entries


async def replay(js: JetStreamContext, sequence: int) -> int:
    """Publish dead letter `sequence`'s original message again; return its new stream sequence."""
    raw = await js.get_msg(STREAM, seq=sequence)
    record = DeadLetter.model_validate_json(raw.data or b"")
    headers = {k: v for k, v in record.original_headers.items() if k not in HOP_HEADERS}
    headers[MSG_ID_HEADER] = f"replay:{STREAM}:{sequence}"
    if record.original_data_b64:
        data = base64.b64decode(record.original_data_b64)
    else:  # too large to carry: the original is where it was published
        data = (await js.get_msg(record.stream, seq=record.stream_sequence)).data or b""
    ack = await js.publish(record.original_subject, data, headers=headers)
    return int(ack.seq)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.kit.deadletters", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="show dead letters, oldest first")
    listing.add_argument("--service")
    listing.add_argument("--limit", type=int, default=50)
    again = commands.add_parser("replay", help="publish a dead letter's original message again")
    again.add_argument("sequence", type=int)
    args = parser.parse_args(argv)

    settings = ServiceSettings(service_name="deadletters")
    nc = await connect_as(settings, "housing-deadletters", identity=ADMIN, attempts=5)
    try:
        js = nc.jetstream()
        if args.command == "list":
            for entry in await list_deadletters(js, args.service, args.limit):
                record = entry.record
                print(
                    json.dumps(
                        {
                            "sequence": entry.sequence,
                            "service": record.service,
                            "subject": record.original_subject,
                            "stream": record.stream,
                            "stream_sequence": record.stream_sequence,
                            "deliveries": record.deliveries,
                            "failed_at": record.failed_at.isoformat(),
                            "reason": record.reason,
                        },
                        ensure_ascii=False,
                    )
                )
        else:
            print(f"replayed dead letter {args.sequence} as {await replay(js, args.sequence)}")
    finally:
        await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
