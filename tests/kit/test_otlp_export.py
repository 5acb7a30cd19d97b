"""With OTEL_EXPORTER_OTLP_ENDPOINT set, spans leave the process over OTLP/HTTP; without it, nothing does."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.nats import free_port

SCRIPT = """
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from services.kit.settings import ServiceSettings
from services.kit.tracing import setup_tracing, span

settings = ServiceSettings(service_name="export-test")
provider = setup_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)
with span("household review", SpanKind.INTERNAL):
    pass
provider.shutdown()  # flushes the batch processor
"""


class Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Collector.received.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run_script(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, timeout=60)


def test_spans_are_exported_when_an_endpoint_is_set(collector: str) -> None:
    run_script({**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": collector})
    assert len(Collector.received) == 1
    path, content_type, body = Collector.received[0]
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert b"household review" in body and b"export-test" in body


def test_nothing_leaves_the_process_without_an_endpoint(collector: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    run_script(env)
    assert Collector.received == []
