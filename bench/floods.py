"""Floods (issue 10, item 3): 2,000 concurrent large POSTs at the gateway and at federation, 50,000
messages into a slow consumer; memory, health and what was shed.

Set-up, as deployed: each service under test is its own process (`python -m gateway`,
`python -m federation`, `python -m services.eligibility`) with its default settings except
`HTTP_MAX_BODY_BYTES_IN_FLIGHT=32 MiB` (default 128 MiB); federation and eligibility on a fresh
nats-server and SQLite. The flood comes from this process (raw sockets: each request's body is written
while its answer is read, so an early 413/503 stops the upload); health is probed by another process
(`tests/floods/probe.py`): `GET /healthz` on a fresh connection every 0.1 s, during the flood and for
2 s after, on the process's health port (`HEALTH_PORT`: a listener of its own, answered by a thread from
the event loop's last heartbeat, `services/kit/health.py`) and, for comparison, on its API port.
Memory: `VmHWM` and `VmRSS` samples from `/proc/<pid>/status` of the server process.
The same scenarios, smaller, are the tests in `tests/floods/`.

- gateway: 2,000 POSTs from one address, bodies of 256 KiB, 512 KiB, 1 MiB and 2 MiB in turn; half
  are department batches (`/api/facts`, limit 16 MiB) speaking for another department (parsed, then
  403), a quarter declare a body over the 64 KiB limit of an approval (413 before it is read), a
  quarter stream one without Content-Length (413 after 64 KiB); a new bearer token every 50 requests;
- federation: 2,000 POSTs at `/federation/v1/household-status`: half declare 256 KiB to 2 MiB (413 on
  Content-Length), a quarter stream them chunked, a quarter are valid signed queries from Guangzhou
  (rate 50/s, burst 100);
- bus: 50,000 `housing.department.fact-reported` over 5,000 seeded households, published as fast as
  JetStream acknowledges them, into eligibility with `HOUSING_FAILPOINTS=eligibility.fact~0.001` (1 ms
  more per fact); done when its durable consumer has nothing pending or unacknowledged; then the store
  is read: each fact's `FactRecorded`, counted by reference.

Time to shed = from the client's connect to the status line of a 413/429/503, so it includes the wait
in the listen queue behind the rest of the flood (the machine's 2 cores are shared by the flood client,
the server, the probe and nats-server). A burst of N connections arriving at once is answered in about
N times the server's CPU per request (last column) on an idle core; a health probe on the API port that
arrives in the middle of the burst waits behind the connections accepted before it, whatever admission
decides; one on the health port does not.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.floods.harness import percentile, shed_ms, summary
from tests.floods.scenarios import (
    GATEWAY_BUDGET_MIB,
    BusResult,
    FloodResult,
    bus_flood,
    federation_flood,
    gateway_flood,
)

POSTS = 2_000
MESSAGES = 50_000


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{percentile(values, 0.5):.0f} / {percentile(values, 0.99):.0f} / {max(values):.0f}"


def _http_row(result: FloodResult) -> str:
    groups = "; ".join(
        f"{group}: " + ", ".join(f"{count:,} x {status}" for status, count in sorted(counter.items()))
        for group, counter in summary(result.outcomes).items()
    )
    during = [p.seconds * 1000 for p in result.during()]
    after = [p.seconds * 1000 for p in result.after()]
    main = [p.seconds * 1000 for p in result.during(main=True)]
    unanswered = sum(1 for p in result.probes if p.status != 200)
    main_unanswered = sum(1 for p in result.main_probes if p.status != 200)
    return (
        f"| {result.name} | {len(result.outcomes):,} in {result.seconds:.1f} s | {groups} "
        f"| {_ms(shed_ms(result.outcomes, (413, 429, 503)))} | {_ms(during)} ({len(during)}) "
        f"| {_ms(after)} | {_ms(main)} ({len(main)}) | {unanswered} / {main_unanswered} "
        f"| {result.baseline_mib:.0f} | **{result.peak_mib:.0f}** "
        f"| {result.budget_mib} | {result.extra['server_cpu_s']:.1f} s "
        f"({result.extra['server_cpu_s'] * 1e6 / len(result.outcomes):,.0f} µs a request) |"
    )


def _bus_row(result: BusResult) -> str:
    during = [p.seconds * 1000 for p in result.during()]
    main = [p.seconds * 1000 for p in result.during(main=True)]
    once = sum(1 for n in result.recorded.values() if n == 1)
    unanswered = sum(1 for p in result.probes if p.status != 200)
    main_unanswered = sum(1 for p in result.main_probes if p.status != 200)
    return (
        f"| {result.messages:,} | {once:,} once, {result.messages - len(result.recorded):,} missing, "
        f"{sum(1 for n in result.recorded.values() if n > 1):,} twice or more "
        f"| {result.publish_s:.1f} s | {result.drain_s:.1f} s | {result.max_pending:,} "
        f"| {_ms(during)} ({len(during)}) | {_ms(main)} ({len(main)}) | {unanswered} / {main_unanswered} "
        f"| {result.baseline_mib:.0f} "
        f"| **{result.peak_mib:.0f}** | {result.budget_mib} |"
    )


async def run(posts: int = POSTS, messages: int = MESSAGES) -> str:
    loads: list[str] = []

    def load() -> None:
        loads.append(f"{os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory(prefix="housing-bench-floods-") as tmp:
        root = Path(tmp)
        load()
        gateway = await gateway_flood(root / "gateway", posts)
        print(f"floods: gateway peak RSS {gateway.peak_mib:.0f} MiB")
        load()
        federation = await federation_flood(root / "federation", posts)
        print(f"floods: federation peak RSS {federation.peak_mib:.0f} MiB")
        load()
        bus = await bus_flood(root / "bus", messages)
        print(f"floods: bus drained in {bus.drain_s:.1f} s, peak RSS {bus.peak_mib:.0f} MiB")
        load()
    return "\n".join(
        [
            "## Floods (large POSTs at the gateway and federation; a slow consumer)",
            "",
            __doc__.strip() if __doc__ else "",
            "",
            "| process | POSTs | statuses by kind of request | time to shed, ms (p50 / p99 / max) "
            "| health port during the flood, ms (p50 / p99 / max) (probes) | health port in the 2 s "
            "after | API port's /healthz during the flood, ms (p50 / p99 / max) (probes) "
            "| probes not answered 200 (health port / API port) | idle RSS, MiB | peak RSS, MiB "
            "| budget, MiB | server CPU |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            _http_row(gateway),
            _http_row(federation),
            "",
            "| facts | handled (counted in the store) | published in | all handled after "
            "| largest backlog in the stream | health port during, ms (p50 / p99 / max) (probes) "
            "| API port's /healthz during, ms (p50 / p99 / max) (probes) "
            "| probes not answered 200 (health port / API port) | idle RSS, MiB | peak RSS, MiB "
            "| budget, MiB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            _bus_row(bus),
            "",
            "Budgets (`tests/floods/scenarios.py`): the process idle (~90 MiB), plus request bodies in "
            "flight (at most `HTTP_MAX_BODY_BYTES_IN_FLIGHT`, and the gateway parses at most "
            "`FACTS_MAX_IN_FLIGHT` department batches at once), plus uvicorn's read buffer of each "
            "open connection (up to 64 KiB before it stops reading: 2,000 connections, ~125 MiB); the "
            f"gateway's {GATEWAY_BUDGET_MIB} MiB also covers a batch parsed into Python objects. "
            "Eligibility's budget covers its aggregate cache and read model of 5,000 households; the "
            "backlog itself waits in JetStream, and the consumer holds one fetched batch and one "
            "prefetched (`INBOX_BATCH_SIZE`, 256).",
            "",
            f"Load average (1 min) of the machine before each flood and at the end: {', '.join(loads)} "
            f"(on {os.cpu_count()} cores; other test runs shared the machine): latencies are upper bounds.",
        ]
    )
