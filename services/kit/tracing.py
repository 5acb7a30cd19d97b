"""OpenTelemetry set up once per process, and the W3C trace context carried across the bus.

A household's story crosses HTTP, an event store, JetStream and other services' stores; an operator
must be able to follow it as one trace. The context therefore travels in three places: HTTP headers
(instrumentation), NATS headers (`traceparent`, injected on publish, extracted on consume), and the
stored event itself, because the relay publishes later, outside the request that caused the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
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


_last_extracted: tuple[str | None, str | None, otel_context.Context] | None = None


def extract(carrier: Mapping[str, str] | None) -> otel_context.Context:
    """The context described by a carrier's `traceparent`; an empty context when there is none.

    The last one is remembered: the relay publishes a message's events one after another, and they
    carry the same context (parsing it costs more than the span that uses it). A context is never
    changed once made, so sharing it is safe, across threads too.
    """
    global _last_extracted
    carrier = carrier or {}
    parent, state = carrier.get("traceparent"), carrier.get("tracestate")
    last = _last_extracted
    if last is not None and last[0] == parent and last[1] == state:
        return last[2]
    ctx = _PROPAGATOR.extract(dict(carrier))
    _last_extracted = (parent, state, ctx)
    return ctx


def current_trace_headers() -> dict[str, str]:
    """The current context as W3C headers, empty when no span is recording."""
    return inject({})


def trace_id_of(span: Span | None = None) -> str | None:
    """Hex trace id of `span` (default: the current span), for logs and read models."""
    span_context = (span or trace.get_current_span()).get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


class span:  # lower case: used like the function it replaced, `with span(...) as s`
    """A span that continues the trace named by `parent` headers (or the current one), current
    while the block runs.

    What `tracer().start_as_current_span(...)` does (the exception recorded and the status set to
    ERROR as `trace.use_span` does, then the span ended), without its four nested generator
    context managers (proxy tracer, SDK tracer, agnostic wrapper, `use_span`). There is a span per
    message consumed and per message published; measured per span with its `inject`: 32 → 15 µs
    without the SDK, 57 → 54 µs with it (the SDK's `start_span` is most of what remains).
    """

    __slots__ = ("_span", "_token")

    def __init__(
        self, name: str, kind: SpanKind, parent: Mapping[str, str] | None = None, **attributes: Any
    ) -> None:
        ctx = extract(parent) if parent is not None else None
        self._span = _TRACER.start_span(name, context=ctx, kind=kind, attributes=attributes)
        self._token: object = None

    def __enter__(self) -> Span:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        current = self._span
        otel_context.detach(self._token)  # type: ignore[arg-type]
        if isinstance(exc, Exception) and current.is_recording():
            current.record_exception(exc)
            current.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        current.end()
