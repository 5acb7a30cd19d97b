"""Concurrent large POSTs (256 KiB to 2 MiB) at the gateway and at federation's peer endpoint, each a
real process, all sent at once from one address (300; 2,000 with FLOOD_SCALE=1).

Pass: every request gets an answer it may get (per kind of request, below), never another 5xx than
admission's 503; every 503 and 429 carries Retry-After, every refusal is problem+json; the process's
peak resident memory stays under its stated budget (`tests/floods/scenarios.py`); every health probe
(a fresh connection every 0.1 s from another process, on the health port and on the API port) is
answered during the flood and after: 200 on the API port; on the health port 200, or 503 while the
event loop has shown no heartbeat for `HEALTH_STALL_S` (which a machine starved of CPU can cause: the
health port says so rather than hide it), and 200 after;
the process serves an ordinary request afterwards. Latencies are printed, not asserted (the figures
are in docs/benchmarks.md, `python -m bench --only floods`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.floods.harness import assert_health, latency, percentile, shed_ms, summary
from tests.floods.scenarios import FloodResult, federation_flood, gateway_flood

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PROBLEM = "application/problem+json"


def report(result: FloodResult) -> str:
    shed = shed_ms(result.outcomes, (413, 429, 503))
    return (
        f"{result.name}: {len(result.outcomes)} POSTs in {result.seconds:.1f} s, statuses "
        f"{ {g: dict(c) for g, c in summary(result.outcomes).items()} }; answer to a shed request p50 "
        f"{percentile(shed, 0.5):.0f} ms, max {max(shed, default=0):.0f} ms; health during on the "
        f"health port: {latency(result.during())}; on the API port: {latency(result.during(main=True))}; "
        f"RSS {result.baseline_mib:.0f} MiB idle, peak {result.peak_mib:.0f} of {result.budget_mib} MiB"
    )


def assert_flood_held(result: FloodResult, allowed: dict[str, set[int]]) -> None:
    print(report(result))
    for outcome in result.outcomes:
        assert outcome.status in allowed[outcome.group], (outcome, result.extra.get("log"))
        if outcome.status in (413, 429, 503):
            assert outcome.headers["content-type"] == PROBLEM, outcome
            assert json.loads(outcome.body)["status"] == outcome.status
        if outcome.status in (429, 503):
            assert int(outcome.headers["retry-after"]) >= 1, outcome
    for main in (False, True):
        assert result.during(main), "no health probe while the flood ran"
        assert result.after(main), "no health probe after the flood"
    assert_health(result.probes, result.after(), result.main_probes)
    assert result.peak_mib < result.budget_mib, report(result)
    assert result.extra["after_status"] == 200


async def test_large_posts_at_the_gateway(tmp_path: Path) -> None:
    result = await gateway_flood(tmp_path)
    assert_flood_held(
        result,
        {
            # read and parsed, then refused (another department's facts); or over the rate; or shed
            "facts": {403, 429, 503},
            # too large on Content-Length: refused before admission (but after the rate limit)
            "declared": {413, 429},
            # too large while streaming, or shed before a byte is read
            "streamed": {413, 429, 503},
        },
    )
    assert any(o.status == 413 for o in result.outcomes)


async def test_large_posts_at_federation(tmp_path: Path) -> None:
    result = await federation_flood(tmp_path)
    assert_flood_held(
        result,
        {
            "declared": {413},  # federation's own 413 on Content-Length, before admission
            "streamed": {413, 503},
            "signed": {200, 429, 503},  # answered, over Guangzhou's rate, or shed
        },
    )
    too_large = [json.loads(o.body)["type"] for o in result.outcomes if o.status == 413]
    assert set(too_large) == {"urn:housing:federation:problem:too-large"}
