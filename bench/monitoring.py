"""Monitoring: door-access signals through NATS into the occupancy book, with detection, at city scale.

Set-up, as deployed: a fresh nats-server; one monitoring process (Application on SQLite, inbox, relay,
signal intake) in this process; Foshan's register seeded first, not timed (12,300 units in 28 estates,
one household each, two enrolled cards per household). The process is pinned to two cores when the
machine has them (nats-server, started after the pinning, shares them).

Signals: a day's traffic is ~50,000 door openings for the city. The mix: members' openings at home;
1 % of units with a sub-tenant (a stranger's card every evening); 1 % vacant (nothing).

Figures:
- sustained intake: N signals published by an estate gateway as JSON arrays of 500 (how gateways batch);
  time from the first publish until the intake has folded the last one, detected on every touched
  unit and checkpointed. Rate = signals ÷ that time. Again with one signal per NATS message;
- fold only: the same signals folded straight into the book (no NATS), the intake's CPU ceiling;
- sweep: every detector over all 12,300 units (what runs every DETECTION_SWEEP_S);
- memory: the process's RSS after the runs (peak and current), and the checkpoint's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from services.kit.bus import connect, ensure_streams
from services.kit.uow import UnitOfWork
from services.monitoring.application import MonitoringApp
from services.monitoring.domain import Credential, UnitRef
from services.monitoring.handlers import DOOR_ACCESS
from services.monitoring.intake import CHECKPOINT_FILE
from services.monitoring.service import MonitoringRuntime, build
from services.monitoring.settings import MonitoringSettings
from tests.support.nats import running_nats

UNITS = 12_300
ESTATES = [f"Estate {i:02d}" for i in range(1, 29)]
DAILY = 50_000
FIRST_DAY = date(2026, 10, 1)


def _units() -> list[UnitRef]:
    return [UnitRef(ESTATES[i % 28], str(1 + (i // 28) % 20), f"{i:05d}") for i in range(UNITS)]


def _seed(app: MonitoringApp, units: list[UnitRef]) -> dict[UnitRef, list[str]]:
    from contracts.eligibility import HouseholdRegistered

    cards: dict[UnitRef, list[str]] = {}
    for start in range(0, len(units), 1000):
        uow = UnitOfWork(app)
        credentials = []
        for i, unit in enumerate(units[start : start + 1000], start):
            members = [uuid.uuid4(), uuid.uuid4()]
            payload = HouseholdRegistered.model_validate(
                {
                    "household_id": str(uuid.uuid4()),
                    "region": "CN-FS",
                    "estate": unit.estate,
                    "building": unit.building,
                    "unit": unit.unit,
                    "base_rent": "680.00",
                    "tenancy_start": "2019-05-01",
                    "members": [
                        {"member_id": str(m), "birth_date": "1980-01-01", "disabled": False} for m in members
                    ],
                }
            )
            app.on_household_registered(uow, payload)
            cards[unit] = [f"C{i:05d}A", f"C{i:05d}B"]
            credentials += [
                Credential("card", app.hasher.key("card", card), member)
                for card, member in zip(cards[unit], members, strict=True)
            ]
        uow.commit(None)
        app.save(*credentials)
    app.catch_up()
    return cards


def _signals(cards: dict[UnitRef, list[str]], count: int, rng: random.Random) -> list[dict[str, Any]]:
    units = list(cards)
    sublet = set(units[: UNITS // 100])
    vacant = set(units[UNITS // 100 : UNITS // 50])
    active = [u for u in units if u not in vacant]
    signals = []
    for n in range(count):
        day = FIRST_DAY + timedelta(days=n // DAILY)
        unit = rng.choice(active)
        stranger = unit in sublet and rng.random() < 0.8
        card = f"S-{unit.unit}" if stranger else rng.choice(cards[unit])
        at = datetime(
            day.year, day.month, day.day, rng.randrange(6, 23), rng.randrange(60), tzinfo=UTC
        ) - timedelta(hours=8)
        signals.append(
            {
                "estate": unit.estate,
                "building": unit.building,
                "unit": unit.unit,
                "credential_kind": "card",
                "credential_id": card,
                "at": at.isoformat(),
                "direction": "in" if n % 2 else "out",
            }
        )
    return signals


def _rss_mb() -> tuple[float, float]:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    current = peak
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    return peak, current


@contextlib.contextmanager
def _two_cores() -> Iterator[str]:
    if not hasattr(os, "sched_getaffinity"):
        yield "all cores (no affinity control)"
        return
    before = os.sched_getaffinity(0)
    chosen = set(sorted(before)[:2])
    os.sched_setaffinity(0, chosen)
    try:
        yield f"{len(chosen)} core(s) of {len(before)}"
    finally:
        os.sched_setaffinity(0, before)


async def _drain(runtime: MonitoringRuntime, last_sequence: int, limit_s: float = 600) -> None:
    intake = runtime.intake
    assert intake is not None
    deadline = time.monotonic() + limit_s
    while intake.checkpointed < last_sequence:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"intake at {intake.position}, checkpoint {intake.checkpointed} of {last_sequence}"
            )
        await asyncio.sleep(0.01)


async def _publish(url: str, messages: list[bytes]) -> int:
    nc = await connect(url, "bench-gateway", identity="admin")
    js = nc.jetstream()
    acks = []
    last = 0
    for i, data in enumerate(messages):
        acks.append(await js.publish_async(DOOR_ACCESS.subject, data))
        if len(acks) >= 2000 or i == len(messages) - 1:
            last = max(int(a.seq) for a in await asyncio.gather(*acks))
            acks = []
    await nc.close()
    return last


async def run(signals: int = 4 * DAILY, single: int = DAILY) -> str:
    rng = random.Random(6)
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp, _two_cores() as cores:
        directory = Path(tmp)
        with running_nats(directory / "nats") as server:
            nc = await connect(server.url, "bench", identity="admin")
            await ensure_streams(nc.jetstream())
            await nc.close()
            settings = MonitoringSettings(
                nats_url=server.url, var_dir=directory, signals_checkpoint_s=1.0, detection_sweep_s=3600
            )
            env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(directory / "m.sqlite")}
            _, runtime = build(settings, env)
            app = runtime.app
            assert isinstance(app, MonitoringApp)
            cards = _seed(app, _units())
            await runtime.start()
            try:
                batched = _signals(cards, signals, rng)
                messages = [json.dumps(batched[i : i + 500]).encode() for i in range(0, len(batched), 500)]
                started = time.perf_counter()
                last = await _publish(server.url, messages)
                await _drain(runtime, last)
                elapsed = time.perf_counter() - started
                rows.append(
                    f"| NATS, arrays of 500 | {signals:,} | {elapsed:.2f} s | {signals / elapsed:,.0f} |"
                )

                # One signal per message: the broker's own ingest (fsync per write) is timed alone,
                # then a restarted process works through the backlog.
                await runtime.stop()
                ones = _signals(cards, single, rng)
                started = time.perf_counter()
                last = await _publish(server.url, [json.dumps(s).encode() for s in ones])
                elapsed = time.perf_counter() - started
                rate = single / elapsed
                label = "publish only, one per message (fsync always)"
                rows.append(f"| {label} | {single:,} | {elapsed:.2f} s | {rate:,.0f} |")
                _, runtime = build(settings, env)
                app = runtime.app
                assert isinstance(app, MonitoringApp) and runtime.intake is not None
                await runtime.start()
                await runtime.intake.ready.wait()
                await _drain(runtime, last)
                assert runtime.intake.ready_at is not None
                elapsed = time.monotonic() - runtime.intake.ready_at
                rate = single / elapsed
                rows.append(f"| NATS backlog, one per message | {single:,} | {elapsed:.2f} s | {rate:,.0f} |")

                intake = runtime.intake
                assert intake is not None
                folded = [(DOOR_ACCESS.subject, 10**9 + i, m) for i, m in enumerate(messages)]
                started = time.perf_counter()
                await asyncio.to_thread(intake.fold_many, folded)
                elapsed = time.perf_counter() - started
                rate = signals / elapsed
                rows.append(
                    f"| fold only (no NATS, no detection) | {signals:,} | {elapsed:.2f} s | {rate:,.0f} |"
                )

                started = time.perf_counter()
                raised = await asyncio.to_thread(app.detect)
                sweep = time.perf_counter() - started
                warnings = len(app.open_warnings())
            finally:
                await runtime.stop()
            checkpoint_kb = (directory / CHECKPOINT_FILE).stat().st_size / 1024
    peak, current = _rss_mb()
    return "\n".join(
        [
            "## Monitoring: signal intake and detection",
            "",
            f"{UNITS:,} units in 28 estates, two cards per household; {cores}; SQLite store; detection on "
            "every touched unit after each batch; a checkpoint every second. Rate = signals ÷ time from the "
            "first publish until the last signal is folded, detected on and checkpointed.",
            "",
            "| path | signals | time | signals/s |",
            "| --- | ---: | ---: | ---: |",
            *rows,
            "",
            f"- full sweep (every detector, {UNITS:,} units): {sweep:.2f} s, {len(raised)} new warnings; "
            f"{warnings} open warnings in all",
            f"- memory: RSS {current:,.0f} MB now, {peak:,.0f} MB peak (whole benchmark process, register "
            f"and book included); checkpoint file {checkpoint_kb:,.0f} KB",
            "",
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(run()))
