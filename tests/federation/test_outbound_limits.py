"""A burst of checks against a real peer process: the outbound worker keeps at most
`federation_max_in_flight_queries` queries in flight, so the checks past that wait their turn instead of
failing for want of a connection in the client's pool (which counts against the peer's circuit
breaker and can send households to manual review with `unverified`).

The pool here is small (4 connections, a 20 ms pool timeout) and the transport holds every response
body (so its connection stays out of the pool) until the test opens a gate: with the bound above the
pool the burst then certainly overruns it (every connection held, the next request finds none within
20 ms), whatever the machine's speed; with the bound below it, the requests held are exactly the
bound's and none waits for a connection. No outcome depends on how fast the machine is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import httpx
from eventsourcing.utils import get_topic

from contracts.federation import CrossRegionResultRecorded
from federation.application import FederationApp
from federation.domain import CrossRegionCheck
from federation.handlers import translate
from federation.outbound import Outcome, PeerClient
from federation.peers import load_directory
from federation.worker import OutboundWorker
from tests.federation.conftest import Demo
from tests.federation.test_checks import check_request, deliver
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually

CHECKS = 120
POOL = 4
HOUSED_IN_GZ = "DEMO-4406-0003"
CONCLUDED = get_topic(CrossRegionCheck.PeerConcluded)


class Tracked(httpx.AsyncByteStream):
    """A response body that is read only once the transport's gate is open (until then its connection
    stays out of the pool, counted in `held`) and says when it is closed: the connection is the
    pool's again only then."""

    def __init__(self, inner: httpx.AsyncByteStream, transport: Counting) -> None:
        self.inner, self.transport = inner, transport

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.transport.held += 1
        try:
            await self.transport.gate.wait()
        finally:
            self.transport.held -= 1
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self.transport.done()


class Counting(httpx.AsyncBaseTransport):
    """A real HTTP transport with a small pool, counting the requests in it at once (waiting for a
    connection or holding one) and those that found no connection in time. Response bodies are held
    (`held` of them at the moment) until `gate` opens."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=POOL))
        self.now = self.most = self.pool_timeouts = self.held = 0
        self.gate = asyncio.Event()

    def done(self) -> None:
        self.now -= 1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException as exc:
            self.done()
            self.pool_timeouts += isinstance(exc, httpx.PoolTimeout)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=Tracked(response.stream, self),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


class Recording(OutboundWorker):
    """The outbound worker, noting the result of every verdict it records (from worker threads)."""

    def __init__(self, app: FederationApp, client: PeerClient) -> None:
        super().__init__(app, client)
        self.verdicts: list[str] = []

    def _conclude(self, check_id: UUID, city: str, outcome: Outcome) -> None:
        super()._conclude(check_id, city, outcome)
        self.verdicts.append(outcome.result)


@dataclass
class Burst:
    held: int
    """The response bodies held at once while the gate was closed (each a connection out of the pool)."""
    timeouts_while_held: int
    """The requests that found no connection in time, by the moment the gate opened."""
    verdicts_while_held: list[str]
    """The results recorded by the moment the gate opened (no answer could be read before)."""
    most_in_pool: int
    """The most requests in the client's pool at once (waiting for a connection or holding one)."""
    pool_timeouts: int
    """The requests that found no connection in time, over the whole burst."""
    results: dict[str, CrossRegionResultRecorded]
    """The published verdict of every check, by check id."""


def burst(
    demo: Demo,
    tmp_path: Path,
    name: str,
    max_in_flight: int,
    hold_until: Callable[[Counting, list[str]], bool],
    what: str,
) -> Burst:
    """`CHECKS` checks opened at once in a Foshan store of their own, each asking Guangzhou about one
    household housed there. Response bodies are held until `hold_until(transport, verdicts recorded)`
    holds (`what` says what is waited for); then the gate opens and the worker runs until every check
    is concluded."""
    settings = demo.settings("CN-FS", tmp_path, federation_max_in_flight_queries=max_in_flight)
    app = FederationApp(settings, {**demo.env("CN-FS", tmp_path), "SQLITE_DBNAME": str(tmp_path / name)})
    checks = []
    for sequence in range(1, CHECKS + 1):
        request = check_request(demo, uuid4(), ["CN-GZ"], {"CN-GZ": HOUSED_IN_GZ})
        deliver(app, request, sequence)
        checks.append(request.check_id)

    def concluded() -> int:
        return sum(1 for check_id in checks if (check := app.check(check_id)) and not check.pending_cities)

    transport = Counting()
    at_gate: list[int] = []
    verdicts_at_gate: list[str] = []

    async def work() -> None:
        timeout = httpx.Timeout(30.0, pool=0.02)  # generous for the peer, none to spare for the pool
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as http:
            directory = load_directory(settings.federation_peers_file, "CN-FS")
            worker = Recording(app, PeerClient(settings, directory, demo.key("CN-FS"), http))
            stop = asyncio.Event()
            running = asyncio.create_task(worker.run(stop))
            try:
                await eventually(lambda: hold_until(transport, worker.verdicts), what)
                at_gate.extend((transport.held, transport.pool_timeouts))
                verdicts_at_gate.extend(worker.verdicts)
                transport.gate.set()
                for _ in range(1200):
                    if await asyncio.to_thread(concluded) == CHECKS:
                        break
                    await asyncio.sleep(0.1)
            finally:
                transport.gate.set()
                stop.set()
                await running

    try:
        asyncio.run(work())
        assert concluded() == CHECKS, "every check concluded"
        results = {
            str(out.payload.check_id): out.payload
            for n in app.notification_log.select(start=1, limit=1000, topics=[CONCLUDED])
            for out in translate(app.mapper.to_domain_event(n))
            if isinstance(out.payload, CrossRegionResultRecorded)
        }
        assert len(results) == CHECKS
        held, timeouts_while_held = at_gate
        return Burst(
            held, timeouts_while_held, verdicts_at_gate, transport.most, transport.pool_timeouts, results
        )
    finally:
        app.close()


def test_a_burst_of_checks_waits_its_turn_instead_of_exhausting_the_pool(
    guangzhou: ServiceProcess, demo: Demo, tmp_path: Path
) -> None:
    # The bound above the pool (as if there were none): with every connection held, the requests
    # past the pool fail for want of a connection (the pool timeout is 20 ms and no connection comes
    # back before the gate opens), each a failure counted against Guangzhou, until its breaker opens
    # or the attempts run out: checks conclude `unverified` (households sent to manual review) while
    # Guangzhou was never the problem. That is what the bound is for, and shows the burst below is a
    # real one. (No answer can be read before the gate opens, so every verdict by then is a failure;
    # what happens to the retries after it opens depends on their order, and is not asserted.)
    unbounded = burst(
        demo,
        tmp_path,
        "unbounded.sqlite",
        max_in_flight=100,
        hold_until=lambda t, verdicts: t.held >= POOL and t.pool_timeouts > 0 and bool(verdicts),
        what=f"{POOL} connections held, a request without one, a check concluded",
    )
    assert unbounded.held == POOL and unbounded.timeouts_while_held > 0
    assert unbounded.most_in_pool > POOL
    assert set(unbounded.verdicts_while_held) == {"unverified"}
    assert any(r.result == "unverified" for r in unbounded.results.values())

    # Bounded below the pool: with the bound's worth of connections held, no request waits for one
    # (no more are in the pool than the bound, none timed out); once released, every check is asked
    # once, answered and concluded on Guangzhou's verified answer.
    answered_before = guangzhou.metric('federation_inbound_queries_total{peer="CN-FS"}')
    bounded = burst(
        demo,
        tmp_path,
        "bounded.sqlite",
        max_in_flight=POOL - 1,
        hold_until=lambda t, _: t.held >= POOL - 1,
        what=f"{POOL - 1} connections held",
    )
    assert bounded.held == POOL - 1 and bounded.timeouts_while_held == 0 and not bounded.verdicts_while_held
    assert bounded.most_in_pool <= POOL - 1 and bounded.pool_timeouts == 0
    outcomes = {(r.result, r.reason) for r in bounded.results.values()}
    assert outcomes == {("match", None)}, sorted(outcomes, key=str)
    assert all(r.holds_subsidised_housing is True for r in bounded.results.values())
    answered = guangzhou.metric('federation_inbound_queries_total{peer="CN-FS"}') - answered_before
    assert answered == CHECKS, "one query per check: none failed and was asked again"
