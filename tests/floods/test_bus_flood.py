"""5,000 department facts (50,000 with FLOOD_SCALE=1) published on `housing.department.fact-reported`
as fast as JetStream takes them, into `python -m services.eligibility` whose fact handler is slowed
(`HOUSING_FAILPOINTS=eligibility.fact~0.001`, a millisecond per fact on top of its own work).

Pass: every fact is recorded on its household exactly once (counted in the store afterwards: one
`FactRecorded` per reference, none missing, none twice); the process's peak resident memory stays
under its stated budget while the backlog waits in the stream (the pull consumer holds one batch and
one prefetched, `INBOX_BATCH_SIZE` each); every health probe is answered during and after, as in
`test_http_floods.py` (200 on the API port; on the health port 200, or 503 while the event loop is
stalled, and 200 after).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.floods.harness import assert_health, latency
from tests.floods.scenarios import bus_flood

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


async def test_a_slow_consumer_under_a_flood_loses_nothing_and_stays_in_budget(tmp_path: Path) -> None:
    result = await bus_flood(tmp_path)
    print(
        f"bus: {result.messages} facts published in {result.publish_s:.1f} s, all handled after "
        f"{result.drain_s:.1f} s; backlog up to {result.max_pending} in the stream; health during on "
        f"the health port: {latency(result.during())}; on the API port: {latency(result.during(True))}; "
        f"RSS {result.baseline_mib:.0f} MiB idle, peak {result.peak_mib:.0f} of {result.budget_mib} MiB"
    )
    expected = {f"FLOOD-{i}" for i in range(result.messages)}
    assert set(result.recorded) == expected, sorted(expected - set(result.recorded))[:10]
    assert [r for r, n in result.recorded.items() if n != 1] == []
    assert result.during() and result.after() and result.during(True) and result.after(True)
    assert_health(result.probes, result.after(), result.main_probes)
    assert result.peak_mib < result.budget_mib
