"""Eligibility: department facts in over NATS → decisions recorded → events out; what-if over Foshan.

Set-up: a fresh nats-server (JetStream syncing every write, `sync_interval: always`, as the platform's
configs do), households seeded first (not timed) straight into the store, a department publishing
from this process either a fact per message (`housing.department.fact-reported`) or exports of 500
facts per message (`housing.department.facts-reported`, how departments send their data), and
eligibility run three ways:
- *in the bench's process*: its Application, inbox and relay as one `Runtime` in this process, without
  the OpenTelemetry SDK (the figure earlier reports gave);
- *one service process*: `python -m services.eligibility` as deployed (HTTP, inboxes and relay in one
  process, tracing set up by `observe` with no exporter);
- *split*: the same service as two processes on the one store (`SERVICE_LOOPS`): HTTP and the inboxes
  in one, the relay alone in the other (polling the store every 50 ms when idle, as a relay without
  the writers in its process must). The cross-region sweep is off in the service processes.
The relay publishes JetStream atomic batches (`RELAY_ATOMIC_BATCHES`, on by default). One more row,
not the platform's configuration, shows the broker with JetStream's default sync instead.

Figures:
- end to end: N facts published as fast as the department can; time from the first publish until the
  inbox has committed the last fact (with its decision, and review cases for newly failing
  households) and the relay has published every resulting event (FactRecorded and ReviewDecided for
  every fact, review openings, cross-region check requests). Rate = facts ÷ that time. Every fact
  is about a different household than the facts around it (round robin), so no decision is shared;
- latency: one fact per household per message at a steady rate; per fact, arrival of its household's
  ReviewDecided on NATS minus the fact's publish time; p50 and p99;
- what-if: a stricter income threshold over a 38,600-household population (two facts each), computed
  by `POST /what-if`'s function: first call and later calls. The read model's catch-up from the store
  is shown separately; it builds each household's rule inputs as it applies their events (the service
  runs it in the background at start), so the first call evaluates only (outcome under the parameters
  in force, remembered, and under the candidate);
- CPU: CPU time (user + system, every thread) per fact over the end-to-end window, a figure that
  other work on the machine disturbs less than the rate: the bench's own process for the first set-up
  (which includes the department's publishing), the service processes' (from /proc) for the others;
  the broker's (nats-server, from /proc) beside it.

Where the time went, and what changed (2026-11-27): all of it runs on the machine's 2 cores, the
broker included, and the broker's per-write sync was the largest single cost. A fact per message
with a message per event out cost nats-server ~0.2 ms of CPU per fact (5 synced writes), the inbox a
message's decoding, span and ack per fact. Two changes: departments send exports (one write and one
delivery for 500 facts; an invalid entry is dead-lettered alone), and the relay publishes atomic
batches (one sync per batch of up to 1,000 messages; 15-23 µs of broker CPU a message instead of
73-91, measured alone). Together: the broker's CPU per fact from ~0.22 to ~0.06 ms, eligibility's
from ~1.05 to ~0.7 ms over its two processes. What is left is Python: the inbox's handler, decision
and store write (~0.4 ms a fact) and the relay's decode, translation, span and encoding (~0.27 ms,
two messages a fact). One process cannot use both cores (the GIL): for throughput, run the relay
apart (`SERVICE_LOOPS`), as the split rows do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from nats.js.api import ConsumerConfig, DeliverPolicy

from bench.support import free_port, percentile, postgres_env, running_nats
from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported, DepartmentFactsReported
from services.eligibility import identity
from services.eligibility.application import EligibilityApp
from services.eligibility.domain import Household, PersonIndex
from services.eligibility.handlers import consumes
from services.eligibility.queries import what_if
from services.eligibility.settings import EligibilitySettings
from services.eligibility.translate import make_translator
from services.kit import clock
from services.kit.bus import connect, ensure_streams
from services.kit.codec import Outgoing, encode
from services.kit.relay import POSITION
from services.kit.runtime import Runtime
from services.kit.uow import UnitOfWork
from tests.support.nats import NatsServer
from tests.support.processes import ServiceProcess

FACT_REPORTED = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]
FACTS_REPORTED = EVENTS_BY_TYPE[("housing.department.facts-reported", 1)]
POPULATION = 38_600
LATENCY_RATE = 250
ESTATES = [f"Estate {i:02d}" for i in range(1, 29)]  # Foshan's 28 estates


def _store(backend: str, directory: Path) -> dict[str, str]:
    if backend == "SQLite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(directory / "e.sqlite")}
    pg = postgres_env("bench_eligibility")
    assert pg is not None
    return pg


def _cpu_seconds() -> float:
    """CPU time of this process (every thread: event loop, inbox and store threads), user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu_seconds(pid: int) -> float:
    """CPU time of another process (every thread), user + system, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _synthetic_id(n: int) -> str:
    """Shaped like an ID number (never a real one): 44, fifteen digits, X."""
    return f"44{n:015d}X"


def seed(app: EligibilityApp, count: int, *, facts: bool, rng: random.Random) -> list[uuid.UUID]:
    """`count` households (2 or 3 members) registered, optionally with an income and an assets fact."""
    ids: list[uuid.UUID] = []
    person = 0
    today = app.today()
    for start in range(0, count, 500):
        uow = UnitOfWork(app)
        for index in range(start, min(start + 500, count)):
            members: list[dict[str, Any]] = []
            for _ in range(2 + index % 2):
                person += 1
                number = _synthetic_id(person)
                members.append(
                    {
                        "member_id": uuid.uuid4(),
                        "person_hash": identity.person_hash(number, app.config.person_hash_key),
                        "id_number": number,
                        "birth_date": date(1960 + person % 40, 1 + person % 12, 1),
                        "disabled": person % 17 == 0,
                    }
                )
            household = Household(
                "CN-FS", ESTATES[index % 28], str(index % 40), str(index), Decimal("650.00"), today, members
            )
            uow.add(household)
            for m in members:
                uow.add(PersonIndex(m["person_hash"], household.id, m["member_id"]))
            ids.append(household.id)
            if facts:
                for reference, fact in _facts(household.id, rng):
                    app.intake_fact(uow, _report(household.id, reference, fact, today))
        uow.commit(None)
    return ids


def _facts(household: uuid.UUID, rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    income = Decimal(rng.randint(150_000, 450_000)) / 100
    assets = Decimal(rng.randint(0, 25_000_000)) / 100
    return [
        (f"MZ-{household}", {"kind": "income", "monthly_income": str(income)}),
        (f"CZ-{household}", {"kind": "financial_assets", "amount": str(assets)}),
    ]


def _report(household: uuid.UUID, reference: str, fact: dict[str, str], on: date) -> DepartmentFactReported:
    return DepartmentFactReported.model_validate(
        {
            "department": "civil_affairs" if fact["kind"] == "income" else "finance",
            "reference": reference,
            "described_on": on,
            "household_id": household,
            "fact": fact,
        }
    )


def _message(report: DepartmentFactReported) -> bytes:
    out = Outgoing(FACT_REPORTED, str(report.household_id), report)
    return encode(out, event_id=report.reference, source="/departments/bench", time=clock.now())


def _batch_message(reports: list[DepartmentFactReported], name: str) -> bytes:
    """A department's export: many facts in one `facts-reported` message."""
    out = Outgoing(FACTS_REPORTED, name, DepartmentFactsReported(facts=reports))
    return encode(out, event_id=name, source="/departments/bench", time=clock.now())


class _Service:
    """Eligibility (application, inbox, relay) in this process on a fresh store and nats-server; with
    `loops`, as `python -m services.eligibility` processes instead, one per `SERVICE_LOOPS` value (the
    application here then only seeds and watches the store)."""

    def __init__(
        self, backend: str, directory: Path, server: NatsServer, loops: tuple[str, ...] | None = None
    ) -> None:
        settings = EligibilitySettings(nats_url=server.url, var_dir=directory, log_level="WARNING")
        store = _store(backend, directory)
        self.app = EligibilityApp(settings, store)
        self.runtime = Runtime(self.app, translate=make_translator(settings), consumes=consumes(self.app))
        self.server = server
        self.processes = [
            ServiceProcess(
                "services.eligibility", [], self._env(store, each, directory), directory / f"p{n}.log"
            )
            for n, each in enumerate(loops or ())
        ]

    def _env(self, store: dict[str, str], loops: str, directory: Path) -> dict[str, str]:
        env = {
            **store,
            "NATS_URL": self.server.url,
            "VAR_DIR": str(directory),
            "HTTP_PORT": str(free_port()),
            "SERVICE_LOOPS": loops,
            "LOG_LEVEL": "WARNING",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "",
            "CROSS_REGION_SWEEP": "false",
        }
        if "http" not in loops.split(","):
            env["RELAY_IDLE_POLL_S"] = "0.05"
        return env

    async def __aenter__(self) -> _Service:
        nc = await connect(self.server.url, "bench-streams", identity="admin")
        await ensure_streams(nc.jetstream())
        await nc.close()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.processes:
            for process in self.processes:
                await asyncio.to_thread(process.stop)
            self.app.close()
        else:
            await self.runtime.stop()

    async def start(self) -> None:
        if not self.processes:
            await self.runtime.start()
            return
        for process in self.processes:
            process.start()
        for process in self.processes:
            if "http" in process.env["SERVICE_LOOPS"].split(","):
                await asyncio.to_thread(process.wait_ready)

    def cpu_seconds(self) -> list[float]:
        """CPU time of eligibility so far: each service process's, else this process's."""
        if not self.processes:
            return [_cpu_seconds()]
        return [_process_cpu_seconds(p.process.pid) for p in self.processes if p.process is not None]

    async def drained(self, facts: int, limit_s: float = 600) -> None:
        """Every fact committed and every resulting event published."""
        deadline = time.monotonic() + limit_s
        while True:
            handled = await asyncio.to_thread(self.app.position, "inbox:DEPARTMENT")
            if handled >= facts:
                latest = await asyncio.to_thread(self.app.recorder.max_notification_id) or 0
                if await asyncio.to_thread(self.app.position, POSITION) >= latest:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"inbox at {handled} of {facts}")
            await asyncio.sleep(0.01)


async def end_to_end(
    backend: str,
    directory: Path,
    facts: int,
    households: int,
    loops: tuple[str, ...] | None = None,
    per_message: int = 1,
    sync_always: bool = True,
) -> dict[str, float]:
    rng = random.Random(7)
    with running_nats(directory / "nats", sync_always=sync_always) as server:
        async with _Service(backend, directory, server, loops) as service:
            ids = await asyncio.to_thread(seed, service.app, households, facts=False, rng=rng)
            before = await asyncio.to_thread(service.app.recorder.max_notification_id) or 0
            reports = []
            today = service.app.today()
            for i in range(facts):
                household = ids[i % households]
                amount = Decimal(rng.randint(150_000, 450_000)) / 100
                fact = {"kind": "income", "monthly_income": str(amount)}
                reports.append(_report(household, f"E-{i}", fact, today))
            if per_message == 1:
                messages = [_message(report) for report in reports]
            else:
                messages = [
                    _batch_message(reports[i : i + per_message], f"export-{i}")
                    for i in range(0, facts, per_message)
                ]
            await service.start()
            await service.drained(0)  # registrations published before the clock starts
            # civil affairs' feed, with its own credential (the bus checks it on every publish)
            nc = await connect(server.url, "bench-department", identity="department-civil_affairs")
            js = nc.jetstream(publish_async_max_pending=4000)
            cpu_before = service.cpu_seconds()
            assert server.process is not None
            broker_before = _process_cpu_seconds(server.process.pid)
            started = time.perf_counter()
            futures = [
                await js.publish_async(
                    FACT_REPORTED.subject_for(department="civil_affairs")
                    if per_message == 1
                    else FACTS_REPORTED.subject_for(department="civil_affairs"),
                    data,
                    headers={"Nats-Msg-Id": f"E-{i}"},
                )
                for i, data in enumerate(messages)
            ]
            await asyncio.gather(*futures)
            published = time.perf_counter()
            await service.drained(len(messages))
            elapsed = time.perf_counter() - started
            cpu = [after - before for after, before in zip(service.cpu_seconds(), cpu_before, strict=True)]
            broker = _process_cpu_seconds(server.process.pid) - broker_before
            await nc.close()
            service.app.population.catch_up()
            cases = len(service.app.population.cases)
            events = (await asyncio.to_thread(service.app.recorder.max_notification_id) or 0) - before
    return {
        "rate": facts / elapsed,
        "publish_rate": facts / (published - started),
        "cases": cases,
        "events": events,
        "cpu_ms_per_fact": sum(cpu) * 1000 / facts,
        "broker_cpu_ms_per_fact": broker * 1000 / facts,
        **{f"cpu_ms_per_fact_{n}": each * 1000 / facts for n, each in enumerate(cpu)},
    }


async def paced_latency(
    backend: str, directory: Path, rate: int, seconds: int, loops: tuple[str, ...] | None = None
) -> list[float]:
    rng = random.Random(11)
    total = rate * seconds
    with running_nats(directory / "nats") as server:
        async with _Service(backend, directory, server, loops) as service:
            ids = await asyncio.to_thread(seed, service.app, total, facts=False, rng=rng)
            today = service.app.today()
            messages = [
                _message(_report(h, f"L-{i}", {"kind": "income", "monthly_income": "3000.00"}, today))
                for i, h in enumerate(ids)
            ]
            await service.start()
            await service.drained(0)  # registrations published before the clock starts
            nc = await connect(server.url, "bench-department", identity="admin")
            js = nc.jetstream()
            arrived: dict[str, float] = {}
            all_arrived = asyncio.Event()

            async def on_decision(msg: object) -> None:
                data = json.loads(getattr(msg, "data", b"{}"))
                arrived.setdefault(data["subject"], time.perf_counter())
                if len(arrived) >= total:
                    all_arrived.set()

            await js.subscribe(
                "housing.eligibility.review-decided",
                stream="ELIGIBILITY",
                cb=on_decision,
                config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
                manual_ack=False,
            )
            sent: dict[str, float] = {}
            next_at = time.perf_counter()
            for household, data in zip(ids, messages, strict=True):
                sent[str(household)] = time.perf_counter()
                await js.publish(
                    FACT_REPORTED.subject_for(department="civil_affairs"),
                    data,
                    headers={"Nats-Msg-Id": str(household)},
                )
                next_at += 1 / rate
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await service.drained(total)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_arrived.wait(), 30)
            await nc.close()
    return [(arrived[h] - sent[h]) * 1000 for h in sent if h in arrived]


def what_if_over_population(directory: Path, population: int) -> dict[str, float]:
    settings = EligibilitySettings(var_dir=directory, log_level="WARNING")
    app = EligibilityApp(settings, _store("SQLite", directory))
    started = time.perf_counter()
    seed(app, population, facts=True, rng=random.Random(3))
    seeded = time.perf_counter() - started
    events = app.recorder.max_notification_id() or 0
    app.close()

    app = EligibilityApp(settings, _store("SQLite", directory))  # a fresh process: empty read model
    started = time.perf_counter()
    app.population.catch_up()
    catch_up = time.perf_counter() - started
    candidate = [("income_per_capita", "CN-FS", Decimal("3800.00"))]
    timings = []
    result: dict[str, object] = {}
    for _ in range(4):
        started = time.perf_counter()
        result = what_if(app, app.today(), candidate)
        timings.append(time.perf_counter() - started)
    app.close()
    flips = result["flips"]
    assert isinstance(flips, dict)
    flipped = sum(int(entry["count"]) for entry in flips.values())
    return {
        "seeded_s": seeded,
        "events": events,
        "catch_up_s": catch_up,
        "first_s": timings[0],
        "later_s": statistics.median(timings[1:]),
        "households": float(result["households"]),  # type: ignore[arg-type]
        "flipped": flipped,
    }


ONE = ("http,inbox,relay",)
SPLIT = ("http,inbox", "relay")


@dataclass(frozen=True)
class Setup:
    """One end-to-end run: where eligibility runs, how the department sends, how the broker syncs."""

    runs: str
    loops: tuple[str, ...] | None
    per_message: int = 1
    sync_always: bool = True
    latency: bool = True  # also the paced latency run (a fact per message only)

    @property
    def sends(self) -> str:
        return "a fact per message" if self.per_message == 1 else f"exports of {self.per_message}"


SETUPS: tuple[Setup, ...] = (
    Setup("in the bench's process, no tracing", None),
    Setup("one service process", ONE),
    Setup("split: http + inboxes │ relay", SPLIT),
    Setup("one service process", ONE, per_message=500, latency=False),
    Setup("split: http + inboxes │ relay", SPLIT, per_message=500, latency=False),
)
BROKER_DEFAULT_SYNC = Setup("split: http + inboxes │ relay", SPLIT, 500, sync_always=False, latency=False)
"""Not the platform's configuration: what JetStream's per-write sync costs (SQLite only)."""


async def run(facts: int = 20_000, households: int = 2_000, population: int = POPULATION) -> str:
    backends = ["SQLite"] + (["PostgreSQL"] if postgres_env("bench") else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="housing-bench-eligibility-") as tmp:
        root = Path(tmp)
        for backend in backends:
            setups = SETUPS + ((BROKER_DEFAULT_SYNC,) if backend == "SQLite" else ())
            for n, setup in enumerate(setups):
                work = root / backend / str(n)
                (work / "e2e").mkdir(parents=True)
                e2e = await end_to_end(
                    backend,
                    work / "e2e",
                    facts,
                    households,
                    setup.loops,
                    setup.per_message,
                    setup.sync_always,
                )
                name = f"eligibility {backend}, {setup.runs}, {setup.sends}"
                print(f"{name}: {e2e['rate']:,.0f} facts/s end to end")
                p50 = p99 = None
                if setup.latency:
                    (work / "lat").mkdir()
                    latencies = await paced_latency(backend, work / "lat", LATENCY_RATE, 8, setup.loops)
                    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
                    print(f"{name}: p50 {p50:.1f} ms p99 {p99:.1f} ms")
                rows.append((backend, setup, e2e, p50, p99))
        (root / "whatif").mkdir()
        wi = await asyncio.to_thread(what_if_over_population, root / "whatif", population)
        print(f"eligibility what-if: first {wi['first_s']:.2f} s, later {wi['later_s']:.2f} s")

    lines = [
        "## Eligibility (department facts → decisions → events out; what-if)",
        "",
        __doc__.strip() if __doc__ else "",
        "",
        "| backend | eligibility runs | department sends | facts/s end to end "
        "| CPU per fact (per process) | broker CPU per fact | department publish rate | events stored "
        f"| review cases opened | p50 fact → ReviewDecided at {LATENCY_RATE}/s | p99 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, setup, e2e, p50, p99 in rows:
        shares = [v for k, v in e2e.items() if k.startswith("cpu_ms_per_fact_")]
        each = f" ({' + '.join(f'{v:.2f}' for v in shares)})" if len(shares) > 1 else ""
        broker = "" if setup.sync_always else " (JetStream's default sync)"
        latency = "— | —" if p50 is None or p99 is None else f"{p50:.1f} ms | {p99:.1f} ms"
        lines.append(
            f"| {backend} | {setup.runs} | {setup.sends}{broker} | **{e2e['rate']:,.0f}** "
            f"| {e2e['cpu_ms_per_fact']:.2f} ms{each} | {e2e['broker_cpu_ms_per_fact']:.2f} ms "
            f"| {e2e['publish_rate']:,.0f} facts/s | {e2e['events']:,.0f} "
            f"| {e2e['cases']:,.0f} | {latency} |"
        )
    ours = [row for row in rows if row[1].sync_always]  # the platform's broker configuration
    best = max(ours, key=lambda row: row[2]["rate"])
    lines += [
        "",
        f"End to end: {facts:,} income facts over {households:,} households (incomes drawn around the "
        "3,960 yuan threshold, so households cross it and open review cases). Target (issue 3): "
        f"≥ 2,000 facts/s end to end. Best with the platform's configuration: **{best[2]['rate']:,.0f} "
        f"facts/s** ({best[0]}, {best[1].runs}, {best[1].sends}).",
        "",
        f"What-if over **{wi['households']:,.0f} households** (SQLite, {wi['events']:,.0f} stored events, "
        f"seeded in {wi['seeded_s']:.1f} s): income threshold 3,960 → 3,800 yuan flips "
        f"{wi['flipped']:,.0f} households; first call **{wi['first_s']:.2f} s**, later calls "
        f"**{wi['later_s']:.2f} s** (median of 3); a fresh process's read model catches up from the "
        f"store in {wi['catch_up_s']:.1f} s. Target: < 2 s.",
    ]
    if "PostgreSQL" not in backends:
        lines.append("")
        lines.append("PostgreSQL was not measured: no server answered (set POSTGRES_*).")
    return "\n".join(lines)


if __name__ == "__main__":
    print(asyncio.run(run()))
