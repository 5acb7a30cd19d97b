"""Health and readiness on a listener of their own, answered by a thread, whatever the event loop does.

The main port's `/healthz` is answered by the event loop, through the same listen queue as every
client: a probe that arrives in the middle of a burst of 2,000 connections waits behind those accepted
before it, and one that arrives while the loop is blocked waits for the loop. An orchestrator that sees
no answer in time restarts a process that was merely busy, and one that sees 200 from a process whose
loop is wedged keeps it. So each process also listens on `HEALTH_PORT` (default `HTTP_PORT + 1000`;
`0` turns it off), served by a small threaded HTTP server (stdlib, no event loop), which answers from
what the loop last showed:

- `/healthz` (liveness): 200 while the loop's heartbeat (a task that stamps the time every 0.25 s) is
  younger than `HEALTH_STALL_S`; else 503 naming the stall. A loop that answers nothing is reported
  dead, not hidden behind a thread that is still alive.
- `/readyz` (readiness): the checks the loop last ran (the same ones as the main port's `/readyz`,
  refreshed every 0.5 s); 503 when one fails or when the snapshot is older than `HEALTH_STALL_S`.
- `/metrics`: Prometheus text (the registry renders from any thread), including the heartbeat's age.

The listener shares no queue and no loop with the API: a flood of the API port costs it only CPU and
the interpreter lock, which the main thread yields every 5 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socketserver
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from services.kit import faults
from services.kit.settings import ServiceSettings

log = logging.getLogger(__name__)

BEAT_S = 0.25
"""How often the event loop stamps its heartbeat."""
REFRESH_S = 0.5
"""How often the event loop recomputes the readiness snapshot: the health port's `/readyz` follows the
main port's by up to this much (plus the checks' own time)."""
FAILPOINT = "kit.event-loop"
"""Failpoint in the heartbeat (`services.kit.faults`): `kit.event-loop~8@20` blocks the event loop for
8 s on its 20th beat, as a handler running blocking code on the loop would."""

PROBLEM_JSON = "application/problem+json"

HEARTBEAT_AGE = Gauge(
    "housing_event_loop_heartbeat_age_seconds",
    "Seconds since the event loop last stamped its heartbeat (read when scraped)",
    ["service"],
)

Readiness = Callable[[], Awaitable[dict[str, bool]]]


class Watchdog:
    """What the event loop last showed: its heartbeat and its readiness checks. Written by the loop,
    read by the health thread: each is one attribute assignment, atomic under the interpreter lock."""

    def __init__(
        self,
        service: str,
        readiness: Readiness,
        stall_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service, self.readiness, self.stall_s, self.clock = service, readiness, stall_s, clock
        self.beat = clock()
        self.snapshot: tuple[float, dict[str, bool]] | None = None
        HEARTBEAT_AGE.labels(service).set_function(lambda: self.clock() - self.beat)

    def liveness(self) -> tuple[int, dict[str, Any]]:
        age = self.clock() - self.beat
        if age <= self.stall_s:
            return 200, {"status": "ok", "service": self.service, "heartbeat_age_s": round(age, 3)}
        return 503, _problem(
            "Event loop stalled",
            f"event loop stalled: no heartbeat for {age:.1f} s (limit {self.stall_s:g} s)",
            service=self.service,
            heartbeat_age_s=round(age, 3),
        )

    def ready(self) -> tuple[int, dict[str, Any]]:
        if self.snapshot is None:
            return 503, _problem("Not ready", "readiness not computed yet", service=self.service)
        at, checks = self.snapshot
        age = self.clock() - at
        if age > self.stall_s:
            detail = f"readiness snapshot stale: computed {age:.1f} s ago (limit {self.stall_s:g} s)"
            return 503, _problem("Not ready", detail, checks=checks, snapshot_age_s=round(age, 3))
        if all(checks.values()):
            return 200, {"status": "ready", "checks": checks, "snapshot_age_s": round(age, 3)}
        failing = ", ".join(name for name, ok in checks.items() if not ok)
        return 503, _problem("Not ready", failing, checks=checks, snapshot_age_s=round(age, 3))

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(BEAT_S)
            faults.hit(FAILPOINT)
            self.beat = self.clock()

    async def refresh(self) -> None:
        """The readiness checks every `REFRESH_S`; a check that does not answer within `stall_s`
        (a store that hangs) is recorded as `checks_answered: false`."""
        answered = True
        while True:
            try:
                checks = await asyncio.wait_for(self.readiness(), self.stall_s)
                answered = True
            except Exception:  # a failing check is what readiness reports
                if answered:  # logged once per outage, not every half second
                    log.warning("readiness checks did not answer", exc_info=True)
                answered = False
                checks = {"checks_answered": False}
            self.snapshot = (self.clock(), dict(checks))
            await asyncio.sleep(REFRESH_S)


def _problem(title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": 503, "detail": detail, **extra}


class _Handler(BaseHTTPRequestHandler):
    server: HealthServer
    timeout = 5  # a client that sends nothing holds a thread this long at most
    server_version = "housing-health"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._json(*self.server.watchdog.liveness())
        elif path == "/readyz":
            self._json(*self.server.watchdog.ready())
        elif path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest())
        else:
            self._json(404, {"type": "about:blank", "title": "Not Found", "status": 404})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        kind = "application/json" if status < 400 else PROBLEM_JSON
        self._send(status, kind, json.dumps(body).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would drown the logs; errors show in the answers."""


class HealthServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], watchdog: Watchdog) -> None:
        self.watchdog = watchdog
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer's own looks up the host's fully qualified name, which can wait on DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


def health_port(settings: ServiceSettings) -> int | None:
    """The port of the health listener: `HEALTH_PORT`, or `HTTP_PORT + 1000` when unset; None when
    `HEALTH_PORT=0` (off) or the derived port would not exist."""
    if settings.health_port is not None:
        return settings.health_port or None
    derived = settings.http_port + 1000
    return derived if derived <= 65535 else None


def start_listener(settings: ServiceSettings, watchdog: Watchdog) -> HealthServer | None:
    """Bind and serve on a daemon thread. A port set in `HEALTH_PORT` that cannot be bound stops the
    process (a probe pointed at it would restart it forever); the derived default that is taken is
    logged and skipped, the main port's endpoints still answer."""
    port = health_port(settings)
    if port is None:
        log.info("health listener off (HEALTH_PORT=%s)", settings.health_port)
        return None
    try:
        server = HealthServer((settings.http_host, port), watchdog)
    except OSError as exc:
        if settings.health_port is not None:
            raise SystemExit(f"{settings.service_name}: cannot listen on HEALTH_PORT {port}: {exc}") from exc
        log.error("health listener not started: port %s (HTTP_PORT + 1000) unusable: %s", port, exc)
        return None
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    log.info("health listener on %s:%s", settings.http_host, port)
    return server


@contextlib.asynccontextmanager
async def watching(settings: ServiceSettings, readiness: Readiness) -> AsyncIterator[Watchdog]:
    """The heartbeat and readiness tasks on the running loop and the health listener, for as long as
    the process serves (its graceful stop included: readiness then reports the bus drained)."""
    watchdog = Watchdog(settings.service_name, readiness, settings.health_stall_s)
    tasks = [
        asyncio.create_task(watchdog.heartbeat(), name="health.heartbeat"),
        asyncio.create_task(watchdog.refresh(), name="health.readiness"),
    ]
    server = start_listener(settings, watchdog)
    try:
        yield watchdog
    finally:
        if server is not None:
            await asyncio.to_thread(server.shutdown)
            server.server_close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
