"""A household's timeline read from a service's store, with the trace id of the request behind each step."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID, uuid4

from eventsourcing.domain import DomainEventProtocol
from opentelemetry.trace import SpanKind

from services.kit.settings import ServiceSettings
from services.kit.timeline import Step, timeline, trace_id_from
from services.kit.tracing import setup_tracing, span, trace_id_of
from tests.kit.sample import FactReport, Feed


def describe(event: DomainEventProtocol[UUID]) -> Step | None:
    if isinstance(event, FactReport.Reported):
        return Step(f"Income of {event.monthly_income} reported", actor="clerk-1", reason=event.reference)
    return None


def test_entries_name_the_step_the_actor_and_the_trace(tmp_path: Path, persistence: dict[str, str]) -> None:
    setup_tracing("test", None)
    feed = Feed(ServiceSettings(service_name="feed", var_dir=tmp_path), persistence)
    household = uuid4()
    untraced = feed.report("ref-1", household)
    with span("request", SpanKind.SERVER) as s:
        traced = feed.report("ref-2", household)
        trace_id = trace_id_of(s)
    entries = timeline(feed, [traced, untraced], describe)
    assert [e.reason for e in entries] == ["ref-1", "ref-2"]  # oldest first, whatever the order asked
    assert entries[0].trace_id is None
    assert entries[1].trace_id == trace_id
    assert {e.service for e in entries} == {"feed"}
    assert entries[1].summary == "Income of 4200.00 reported"
    assert entries[1].actor == "clerk-1"
    assert entries[1].at.tzinfo is not None
    feed.close()


def test_trace_ids_only_from_well_formed_traceparents() -> None:
    tid = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_from({"traceparent": f"00-{tid}-00f067aa0ba902b7-01"}) == tid
    assert trace_id_from({"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"}) is None
    assert trace_id_from({"traceparent": "garbage"}) is None
    assert trace_id_from({}) is None
