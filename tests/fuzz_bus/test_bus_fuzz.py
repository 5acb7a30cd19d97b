"""Bus fuzzing: every subject the services consume gets generated messages (valid per the contract,
invalid per the contract, truncated, wrong version, unknown type, broken envelope, wrong subject, not
JSON) on a real nats-server, consumed by the services' real inboxes and handlers.

Pass: a valid message a service handles has its effects committed exactly once (the witness ledger
holds its sequence once), or the service's handler refused it and it was dead-lettered as such
(`handler failed ...`, only for the refusals the services document); a valid message a service does
not handle is skipped; every invalid one is dead-lettered on `housing.deadletter.<service>` by every
consumer of its stream, with the contract's reason, without reaching a handler; every inbox gets past
the whole round (a valid sentinel per stream ends each round), so the consumer never stops and no
later message is lost.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from pathlib import Path
from uuid import uuid4

import nats.errors
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.catalogue import EVENTS_BY_TYPE
from tests.contracts.test_payloads import SAMPLES, sample_of
from tests.fuzz_bus.bus import Bus, Published
from tests.fuzz_bus.messages import (
    CONSUMED_STREAMS,
    HOUSEHOLDS,
    SPECS,
    Message,
    expect,
    messages,
    valid_message,
)
from tests.support.nats import NatsServer

EXAMPLES = int(os.environ.get("FUZZ_BUS_EXAMPLES", "8"))
"""Rounds of generated messages (10 to 40 each) after the catalogue round; more for a longer hunt."""
SENTINELS = {
    "DEPARTMENT": "housing.department.fact-reported",
    "ELIGIBILITY": "housing.eligibility.household-registered",
    "FEDERATION": "housing.federation.cross-region-result-recorded",
    "MONITORING": "housing.monitoring.warning-rectified",
    "PENALTIES": "housing.penalties.exit-completed",
}
REFUSALS = {
    # service: what its handlers refuse by design (README of the service), as it appears in the reason
    "penalties": ("NotYetKnown", "ParameterError('no value of ", 'BasisError("warning '),
}
"""Contract-valid messages a handler may refuse (retried, then dead-lettered): a fact about a household
the service has not seen registered, dated before any value of a parameter it needs, or a warning
confirmed again as another violation than the one penalties holds (penalties' README). Any other
handler failure on a valid message is a finding."""

REFUSED_AT_ONCE = {
    # service: valid messages (or an export's entries) its handler refuses for good before handling
    # (`refuse`, services/kit/inbox.py), dead-lettered at once: a fact describing a day not yet come
    "eligibility": ("lies in the future",),
}


def refused_at_once(service: str, reason: str) -> bool:
    return any(r in reason for r in REFUSED_AT_ONCE.get(service, ()))


def rejected_count(reason: str) -> int:
    """How many entries an export's dead letter names ("3 of 40 entries: ...")."""
    head = reason.split(" of ", 1)[0]
    return int(head) if head.isdigit() else -1


def sentinel(stream: str) -> Message:
    spec = EVENTS_BY_TYPE[(SENTINELS[stream], 1)]
    payload = json.loads(json.dumps(sample_of(spec)))
    if "household_id" in payload:
        payload["household_id"] = str(uuid4())
    return valid_message(spec, payload, f"sentinel-{uuid4()}")


async def check(
    bus: Bus, published: list[Published], covered: set[tuple[str, str]] | None = None
) -> tuple[list[str], Counter[str]]:
    """What went wrong, and how each message fared (for the report); `covered` collects the
    (service, event type) pairs a valid message reached."""
    problems: list[str] = []
    outcomes: Counter[str] = Counter()
    covered = covered if covered is not None else set()
    ledgers = {
        (service.name, stream): await bus.witnessed(service, stream)
        for service in bus.services
        for stream in service.handles
    }
    for p in published:
        expected = expect(p.message.subject, p.message.data)
        for service in bus.consumers(p.stream):
            dead = bus.deadletters.get((service.name, p.stream, p.sequence))
            effects = ledgers[service.name, p.stream].get(p.sequence, 0)
            where = (
                f"{service.name} {p.stream}#{p.sequence} "
                f"({p.message.intent}, {expected.why}, {p.message.data[:160]!r})"
            )
            if not expected.valid:
                if dead is None or effects:
                    problems.append(f"invalid message not dead-lettered: {where}; effects {effects}")
                elif dead.reason.startswith("handler failed"):
                    problems.append(f"invalid message reached a handler: {where}: {dead.reason}")
                else:
                    outcomes["invalid: dead-lettered"] += 1
            elif expected.type in service.handles[p.stream]:
                covered.add((service.name, expected.type))
                entries_dead = bus.entry_deadletters.get((service.name, p.stream, p.sequence))
                refused = entries_dead is not None and refused_at_once(service.name, entries_dead.reason)
                if refused:  # entries refused by design beside any invalid ones: counted apart
                    assert entries_dead is not None
                    if rejected_count(entries_dead.reason) < expected.rejected:
                        problems.append(f"invalid entries not dead-lettered as such: {where}: {entries_dead}")
                    else:
                        outcomes["batch: entries refused by design apart"] += 1
                elif expected.rejected and (
                    entries_dead is None or not entries_dead.reason.startswith(f"{expected.rejected} of ")
                ):
                    problems.append(f"invalid entries not dead-lettered as such: {where}: {entries_dead}")
                elif not expected.rejected and entries_dead is not None:
                    problems.append(f"valid entries dead-lettered: {where}: {entries_dead.reason}")
                elif effects == expected.entries and dead is None:
                    outcomes[
                        "valid: handled once" if expected.rejected == 0 else "batch: bad entries apart"
                    ] += 1
                elif effects == 0 and dead is not None and refused_at_once(service.name, dead.reason):
                    outcomes["valid: refused at once by design, dead-lettered"] += 1
                elif effects == 0 and dead is not None and dead.reason.startswith("handler failed"):
                    if any(r in dead.reason for r in REFUSALS.get(service.name, ())):
                        outcomes["valid: refused by design, dead-lettered"] += 1
                    else:
                        problems.append(f"handler failed on a valid message: {where}: {dead.reason}")
                else:
                    reason = dead.reason if dead else None
                    problems.append(f"valid message handled {effects} times, dead letter {reason}: {where}")
            elif effects or dead is not None:
                problems.append(f"message of a type not handled had an outcome: {where}")
            else:
                outcomes["valid: not handled here, skipped"] += 1
    return problems, outcomes


async def storm(
    bus: Bus, batch: list[Message], covered: set[tuple[str, str]]
) -> tuple[list[str], Counter[str]]:
    published = [await bus.publish(message) for message in batch]
    published += [await bus.publish(sentinel(stream)) for stream in CONSUMED_STREAMS]
    await bus.settle(published)
    return await check(bus, published, covered)


def catalogue_round() -> list[Message]:
    """Every event of every consumed stream once as the catalogue's sample (households from the pool,
    registrations first) and once with a field the closed contract does not know."""
    batch = []
    for stream in CONSUMED_STREAMS:
        for spec in sorted(SPECS[stream], key=lambda s: s.name != "household-registered"):
            payload = json.loads(json.dumps(sample_of(spec)))
            if "household_id" in payload:
                payload["household_id"] = str(HOUSEHOLDS[0])
            batch.append(valid_message(spec, payload, f"sample-{uuid4()}"))
            message = valid_message(spec, {**payload, "citizen_name": "x"}, f"extra-{uuid4()}")
            batch.append(Message(message.stream, message.subject, message.data, "unknown field"))
    return batch


batches = st.lists(st.sampled_from(CONSUMED_STREAMS).flatmap(messages), min_size=10, max_size=40)


def test_every_consumed_subject_survives_a_storm_of_generated_messages(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    loop = asyncio.new_event_loop()
    bus = loop.run_until_complete(Bus.start(nats_server.url, tmp_path))
    totals: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    covered: set[tuple[str, str]] = set()

    def one_round(batch: list[Message]) -> None:
        problems, outcomes = loop.run_until_complete(storm(bus, batch, covered))
        totals.update(outcomes)
        kinds.update(m.intent for m in batch)
        assert not problems, "\n".join(problems[:20])

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(batch=batches)
    def round_(batch: list[Message]) -> None:
        one_round(batch)

    try:
        one_round(catalogue_round())  # every subject and type at least once, valid and invalid
        round_()
    finally:
        loop.run_until_complete(bus.stop())
        loop.close()
    print(f"\nmessages by kind: {dict(kinds)}\noutcomes per consumer: {dict(totals)}")
    assert totals["invalid: dead-lettered"] and totals["valid: handled once"]
    every = {(s.name, kind) for s in bus.services for kinds_ in s.handles.values() for kind in kinds_}
    assert every == covered, f"never reached with a valid message: {sorted(every - covered)}"


# -- size: the server's max_payload (1 MiB in the tests' nats.conf, NATS's default) ---------------------

REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.household-registered", 1)]


def large_registration(size: int, *, extra_field: bool = False) -> Message:
    """A household-registered event of about `size` bytes: a household with very many members (the
    contract bounds each member, not their number). With `extra_field` it is invalid (closed model)."""
    payload = json.loads(json.dumps(SAMPLES[REGISTERED.type]))
    payload["household_id"] = str(uuid4())
    member = {"member_id": "", "birth_date": "1985-07-15", "disabled": False}
    one = len(json.dumps({**member, "member_id": str(uuid4())})) + 1
    payload["members"] = [{**member, "member_id": str(uuid4())} for _ in range(size // one)]
    if extra_field:
        payload["note"] = "not in the contract"
    message = valid_message(REGISTERED, payload, f"large-{uuid4()}")
    while len(message.data) > size:
        payload["members"].pop()
        message = valid_message(REGISTERED, payload, f"large-{uuid4()}")
    return message


async def test_near_the_size_limit_a_valid_message_is_handled_and_above_it_publish_fails(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    bus = await Bus.start(nats_server.url, tmp_path, names=["resettlement"])
    try:
        limit = bus.nc.max_payload
        assert limit == 1024 * 1024
        with pytest.raises(nats.errors.MaxPayloadError):  # refused by the client before it is sent
            await bus.publish(Message("ELIGIBILITY", REGISTERED.subject, b"x" * (limit + 1), "oversized"))
        big = large_registration(limit - 4096)  # headers count against the limit on the server
        assert expect(big.subject, big.data).valid
        published = [await bus.publish(big), await bus.publish(sentinel("ELIGIBILITY"))]
        await bus.settle(published, timeout=60)
        problems, outcomes = await check(bus, published)
        assert not problems, problems
        assert outcomes["valid: handled once"] == 2
    finally:
        await bus.stop()


async def test_an_invalid_message_just_below_the_size_limit_is_deadlettered(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    bus = await Bus.start(nats_server.url, tmp_path, names=["resettlement"])
    try:
        bad = large_registration(bus.nc.max_payload - 4096, extra_field=True)
        assert not expect(bad.subject, bad.data).valid
        published = [await bus.publish(bad), await bus.publish(sentinel("ELIGIBILITY"))]
        await bus.settle(published, timeout=10)
        problems, _ = await check(bus, published)
        assert not problems, problems
    finally:
        await bus.stop()
