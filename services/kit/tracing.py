"""OpenTelemetry set up once per process, and the W3C trace context carried across the bus.

A household's story crosses HTTP, an event store, JetStream and other services' stores; an operator
must be able to follow it as one trace. The context therefore travels in three places: HTTP headers
(instrumentation), NATS headers (`traceparent`, injected on publish, extracted on consume), and the
stored event itself, because the relay publishes later, outside the request that caused the event.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
TRACER_NAME = "housing.kit"


def setup_tracing(service_name: str, otlp_endpoint: str | None) -> TracerProvider:
    """Install the SDK tracer provider (idempotent); export over OTLP/HTTP only when an endpoint is set.

    With no endpoint spans are still created, so trace ids reach logs and stored events, but nothing
    leaves the process.
    """
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


# One tracer for the process: `get_tracer` builds a new one per call, which cost a sixth of an inbox's
# time when called per message. Made before `setup_tracing` runs, it is a proxy that follows the
# provider installed later.
_TRACER = trace.get_tracer(TRACER_NAME)


def tracer() -> trace.Tracer:
    return _TRACER


def inject(headers: dict[str, str], ctx: otel_context.Context | None = None) -> dict[str, str]:
    """Write `traceparent` (and `tracestate`) of `ctx` or the current context into `headers`."""
    _PROPAGATOR.inject(headers, context=ctx)
    return headers


def extract(carrier: Mapping[str, str] | None) -> otel_context.Context:
    """The context described by a carrier's `traceparent`; an empty context when there is none."""
    return _PROPAGATOR.extract(dict(carrier or {}))


def current_trace_headers() -> dict[str, str]:
    """The current context as W3C headers, empty when no span is recording."""
    return inject({})


def trace_id_of(span: Span | None = None) -> str | None:
    """Hex trace id of `span` (default: the current span), for logs and read models."""
    span_context = (span or trace.get_current_span()).get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


@contextmanager
def span(
    name: str, kind: SpanKind, parent: Mapping[str, str] | None = None, **attributes: Any
) -> Iterator[Span]:
    """A span that continues the trace named by `parent` headers (or the current one)."""
    ctx = extract(parent) if parent is not None else None
    with tracer().start_as_current_span(name, context=ctx, kind=kind, attributes=attributes) as s:
        yield s
