"""The whole city: ingest a Foshan-sized population through the public intake, reach a steady state,
then measure end-to-end latency from a department fact to the events in penalties and resettlement.

Set-up, as `make demo` runs it (infra/city/): the synthetic population (`infra.population`, seed 2026,
scale `CITY_BENCH_SCALE`, default 1.0 = 12,300 households in units and 26,300 on a rent subsidy), the
real stack from infra/local/Procfile (the gateway included) plus the two peer cities it lacks, every
process on free ports, SQLite stores, one nats-server. The loader (infra/city/load.py) plays the
bureau's register and the departments through the front door only: registrations and credentials at
the gateway as `registry.housing-office`, facts at the gateway with each HTTP department's own client
(NDJSON batches of 5,000) or as exports on NATS with each other department's bus credentials, signals
as arrays of 500 on NATS with the door readers' and meters' credentials.

Figures:
- ingest: seconds per intake step, and from the first registration until the steady state (every
  consumer at its stream's end with nothing unacknowledged, every relay's lag 0, no stream growing for
  3 s; infra/city/settle.py);
- latency: `PROBES` households that qualify get a civil-affairs income fact above the threshold at
  the gateway (`dept.civil-affairs`), one every `1 / PROBE_RATE` s. A robot reviewer and supervisor
  act at the gateway the moment the case is open (findings as `reviewer.he`, then approval as
  `supervisor.chen`: the four eyes with no human delay). Times are taken where a subscriber on
  the same NATS sees each event: fact published → `review-decided` (the automated decision) →
  approval answered → first `housing.penalties.*` and `housing.resettlement.household-classified`
  event of that household; p50 / p99 of each leg and of the whole path (fact → penalties, fact →
  resettlement);
- memory: each process's peak resident set (`VmHWM` of /proc/<pid>/status) at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from bench.profile import Profile, Profiler, section
from bench.support import postgres_env
from infra.city.data import FOSHAN, RETAIN, load_city, write_population
from infra.city.frontdoor import DEPARTMENT_CLIENTS, FrontDoor
from infra.city.load import Counts
from infra.city.load import load_city as load_into
from infra.city.procfile import city_specs, write_procfile
from infra.city.report import automated_accuracy, outcomes, predicted_automated
from infra.city.settle import settle
from infra.demo import urls_of
from infra.stack import Stack, demo_federation, start_stack
from services.kit import clock
from tests.support.nats import free_port

SCALE = Decimal(os.environ.get("CITY_BENCH_SCALE", "1.0"))
PROBES = int(os.environ.get("CITY_BENCH_PROBES", "100"))
PROBE_RATE = float(os.environ.get("CITY_BENCH_PROBE_RATE", "5"))
BACKENDS = os.environ.get("CITY_BENCH_BACKENDS", "sqlite,postgres").split(",")
"""SQLite, then PostgreSQL when a server answers (`POSTGRES_*`, or one on 127.0.0.1:5432)."""
PROFILE = os.environ.get("CITY_BENCH_PROFILE", "1") != "0"
"""py-spy every process from the first registration to the steady state (bench/profile.py)."""
OPERATOR = {"reviewer": "reviewer.he", "supervisor": "supervisor.chen"}
"""Demo accounts that see every estate (infra/gateway/users.yaml)."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def peak_memory_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Probes:
    """Arrival times of each probe household's events, as a subscriber on the bus sees them."""

    def __init__(self, households: set[str]) -> None:
        self.households = households
        self.seen: dict[tuple[str, str], float] = {}
        self.cases: dict[str, asyncio.Future[None]] = {}
        self.done: dict[str, asyncio.Event] = {h: asyncio.Event() for h in households}

    async def on_message(self, msg: Any) -> None:
        now = time.monotonic()
        try:
            envelope = json.loads(msg.data)
        except ValueError:
            return
        household = str(envelope.get("subject", ""))
        if household not in self.households:
            return
        if msg.subject.startswith("housing.penalties."):
            key = "penalties"
        elif msg.subject == "housing.resettlement.household-classified":
            key = "resettlement"
        elif msg.subject == "housing.eligibility.review-decided":
            if envelope.get("data", {}).get("decision") != "exit_triggered":
                return
            key = "decided"
        else:
            return
        self.seen.setdefault((household, key), now)
        if key == "decided" and household in self.cases and not self.cases[household].done():
            self.cases[household].set_result(None)
        if all((household, k) in self.seen for k in ("penalties", "resettlement")):
            self.done[household].set()


async def probe(door: FrontDoor, probes: Probes, household: str, income: str) -> dict[str, float]:
    """One household from a department fact to penalties and resettlement, reviewed without delay,
    every step at the gateway: civil affairs' system posts the fact, a reviewer proposes, a supervisor
    approves."""
    today = clock.local_today(FOSHAN)
    fact = {
        "department": "civil_affairs",
        "reference": f"BENCH-{household[:13]}",
        "described_on": today.isoformat(),
        "household_id": household,  # the household's per-capita figure: no person named
        "fact": {"kind": "income", "monthly_income": income},
    }
    probes.cases[household] = asyncio.get_running_loop().create_future()
    sent = time.monotonic()
    line = json.dumps(fact).encode()
    answer = await door.post_lines(DEPARTMENT_CLIENTS["civil_affairs"], "/api/facts", [line])
    answer.raise_for_status()
    await asyncio.wait_for(probes.cases[household], 120)
    case_id = None
    while case_id is None:  # the case is in eligibility's read model once its projection caught up
        view = await door.call(OPERATOR["reviewer"], "GET", f"/api/households/{household}")
        case_id = view.raise_for_status().json().get("open_case")
        if case_id is None:
            await asyncio.sleep(0.1)
    finding = {
        "findings": "benchmark",
        "proposed_outcome": "exit_required",
        "reason_code": "bench",
        "low_income": True,
        "wants_to_buy": False,
    }
    path = f"/api/cases/{case_id}"
    (await door.call(OPERATOR["reviewer"], "POST", f"{path}/findings", json=finding)).raise_for_status()
    approval = {"reason": "bench"}
    (await door.call(OPERATOR["supervisor"], "POST", f"{path}/approval", json=approval)).raise_for_status()
    approved = time.monotonic()
    await asyncio.wait_for(probes.done[household].wait(), 120)
    seen = probes.seen
    return {
        "fact_to_decision": seen[(household, "decided")] - sent,
        "approval_to_penalties": seen[(household, "penalties")] - approved,
        "approval_to_resettlement": seen[(household, "resettlement")] - approved,
        "fact_to_penalties": seen[(household, "penalties")] - sent,
        "fact_to_resettlement": seen[(household, "resettlement")] - sent,
        "review_steps": approved - seen[(household, "decided")],
    }


async def latency(
    stack: Stack, candidates: list[tuple[str, str]], threshold: Decimal
) -> dict[str, list[float]]:
    urls = urls_of(stack)
    chosen = candidates[:PROBES]
    probes = Probes({h for h, _ in chosen})
    income = str((threshold * Decimal("1.5")).quantize(Decimal("0.01")))
    nc = await urls.bus("admin")  # the instrument watches every service's events: the operator's credential
    results: dict[str, list[float]] = {}
    try:
        for subject in (
            "housing.eligibility.review-decided",
            "housing.penalties.>",
            "housing.resettlement.>",
        ):
            await nc.subscribe(subject, cb=probes.on_message)
        async with httpx.AsyncClient(timeout=60.0, trust_env=False) as client:
            door = FrontDoor(client, urls["gateway"])
            tasks = []
            for household, _ in chosen:
                tasks.append(asyncio.create_task(probe(door, probes, household, income)))
                await asyncio.sleep(1 / PROBE_RATE)
            for measured in await asyncio.gather(*tasks):
                for key, value in measured.items():
                    results.setdefault(key, []).append(value)
    finally:
        await nc.close()
    return results


@dataclass
class Measured:
    """One whole-city run on one backend."""

    backend: str
    generated: float
    stack_up: float
    processes: int
    counts: Counts
    loaded: float
    steady: float
    to_steady: float
    accuracy: tuple[int, int, int]
    """(automated decisions the truth calls right, how many the truth predicts right, households)"""
    latency: dict[str, list[float]]
    profiles: list[Profile]
    memory: dict[str, float | None]
    summary: dict[str, Any]


@contextmanager
def backend_env(backend: str) -> Iterator[None]:
    """The stack's storage: SQLite files under its var directory (the launcher's default), or a fresh
    PostgreSQL database of its own (each service its schema in it), dropped afterwards."""
    if backend == "sqlite":
        yield
        return
    database = postgres_env("bench_city")
    assert database is not None
    name = f"bench_city_{uuid.uuid4().hex[:8]}"
    conninfo = psycopg.conninfo.make_conninfo(
        host=database["POSTGRES_HOST"],
        port=database["POSTGRES_PORT"],
        user=database["POSTGRES_USER"],
        password=database["POSTGRES_PASSWORD"],
        dbname=database["POSTGRES_DBNAME"],
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in database.items() if k != "POSTGRES_SCHEMA"})
    os.environ["POSTGRES_DBNAME"] = name
    os.environ.pop("POSTGRES_SCHEMA", None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def measure(backend: str) -> Measured:
    with tempfile.TemporaryDirectory(prefix="bench-city-") as tmp, backend_env(backend):
        root = Path(tmp)
        population = root / "population"
        generated = time.monotonic()
        var_dir = root / "var"
        linkage = demo_federation(var_dir, echo=False) / "linkage"  # the keys the subject hashes use
        write_population(
            population, scale=SCALE, seed=2026, as_of=clock.local_today(FOSHAN), linkage_dir=linkage
        )
        generated = time.monotonic() - generated
        city = load_city(population)
        specs = city_specs(population, var_dir=var_dir, port_of=lambda name, port: free_port())
        procfile = write_procfile(specs, root / "Procfile")
        started = time.monotonic()
        with start_stack(
            procfile=procfile, var_dir=var_dir, nats_port=free_port(), nats_http_port=free_port(), echo=False
        ) as stack:
            stack_up = time.monotonic() - started
            urls = urls_of(stack)
            profiler = Profiler(root / "profiles")
            if PROFILE:
                for name, service in stack.services.items():
                    profiler.start(name, service.child.process.pid)
            began = time.monotonic()
            registered, counts = await load_into(
                city, urls, say=lambda m: print(f"  {backend}: {m}", flush=True), run_id="bench"
            )
            loaded = time.monotonic() - began
            steady = await settle(urls, within_s=3600.0)
            to_steady = time.monotonic() - began
            print(f"  {backend}: steady state after {to_steady:.1f} s", flush=True)
            profiler.stop()
            profiles = profiler.read()
            # the instrument reads eligibility's list as the bureau's auditor (not a step of the city)
            async with httpx.AsyncClient(
                timeout=120.0, trust_env=False, auth=urls.auth("bench.auditor", "auditor")
            ) as client:
                automated = await outcomes(client, urls, city)
            right = automated_accuracy(city, registered.household_ids, automated)
            predicted = predicted_automated(city)
            candidates = [
                (registered.household_ids[t.ref], t.members[0])
                for t in city.households
                if t.expected_decision == "qualifies" and t.correct == RETAIN and t.kind == "none"
            ]
            threshold = Decimal(city.meta["thresholds_in_force"]["income_per_capita"])
            measured = await latency(stack, candidates, threshold)
            await settle(urls)
            memory = {name: peak_memory_mib(s.child.process.pid) for name, s in stack.services.items()}
            memory["nats-server"] = peak_memory_mib(stack.nats.child.process.pid)
    return Measured(
        backend=backend,
        generated=generated,
        stack_up=stack_up,
        processes=len(stack.services),
        counts=counts,
        loaded=loaded,
        steady=steady,
        to_steady=to_steady,
        accuracy=(right.correct, predicted.correct, right.total),
        latency=measured,
        profiles=profiles,
        memory=memory,
        summary=city.summary,
    )


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f} /s" if seconds else "-"


NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
TARGETS = (
    "Targets (issue 21): first registration → steady state under 180 s on SQLite, PostgreSQL beside it; "
    "the automated review's accuracy against the truth no lower than before; memory per process within "
    "the budgets of the floods section."
)


async def run() -> str:
    runs: list[Measured] = []
    for backend in BACKENDS:
        if backend == "postgres" and postgres_env("bench_city") is None:
            print("  postgres: no server answers, skipped", flush=True)
            continue
        runs.append(await measure(backend))
    first = runs[0]
    counts, files = first.counts, first.summary["files"]
    lines = [
        "## The whole city (infra/city: population → intake → steady state → fact-to-penalties latency)",
        "",
        f"Scale {SCALE} (seed 2026): {counts.registered:,} households in units and "
        f"{counts.registered_subsidy:,} on a rent subsidy registered, "
        f"{counts.facts_http + counts.facts_bus:,} department facts, {files['credentials.ndjson']:,} "
        f"credentials, {files['door_access.ndjson']:,} door openings, {files['utility.ndjson']:,} utility "
        f"readings, all through the front door. Population written in {first.generated:.1f} s; stack of "
        f"{first.processes} processes ready in {first.stack_up:.1f} s. Set-up, probes and memory: "
        "`bench/city.py`'s docstring.",
        "",
        TARGETS,
        "",
        "| ingest step | " + " | ".join(f"{NAMES[m.backend]} s | rate" for m in runs) + " |",
        "| --- |" + " ---: | ---: |" * len(runs),
    ]

    def row(label: str, key: str, count: Any) -> str:
        cells = [
            f"{m.counts.seconds[key]:.1f} | {rate(count(m.counts), m.counts.seconds[key])}" for m in runs
        ]
        return f"| {label} | " + " | ".join(cells) + " |"

    lines += [
        row(
            "registrations (gateway `POST /api/registrations`, NDJSON batches of 5,000)",
            "registrations",
            lambda c: c.registered + c.registered_subsidy,
        ),
        row(
            "facts (gateway `POST /api/facts` batches + NATS exports)",
            "facts",
            lambda c: c.facts_http + c.facts_bus,
        ),
        row(
            "credentials (gateway `POST /api/credentials`, batches of 10,000)",
            "credentials",
            lambda c: c.credentials,
        ),
        row("signals published (NATS)", "signals", lambda c: c.door_signals + c.utility_signals),
        "| load total | " + " | ".join(f"{m.loaded:.1f} | " for m in runs) + " |",
        "| then to a steady state | " + " | ".join(f"{m.steady:.1f} | " for m in runs) + " |",
        "| **first registration → steady state** | "
        + " | ".join(f"**{m.to_steady:.1f}** | " for m in runs)
        + " |",
        "",
        "Automated first review against the ground truth, at the steady state (households in units): "
        + "; ".join(
            f"{NAMES[m.backend]} {m.accuracy[0]:,} of {m.accuracy[2]:,} decided as the truth calls right "
            f"(the truth predicts {m.accuracy[1]:,} once every peer city has answered)"
            for m in runs
        )
        + ".",
    ]
    for m in runs:
        lines += [
            "",
            f"### {NAMES[m.backend]}",
            "",
            f"Latency, {len(m.latency.get('fact_to_decision', []))} probe households at {PROBE_RATE:g} /s "
            "on the loaded city (seconds):",
            "",
            "| leg | p50 | p99 | max |",
            "| --- | ---: | ---: | ---: |",
            *(
                f"| {name.replace('_', ' ')} | {statistics.median(values):.3f} | "
                f"{percentile(values, 0.99):.3f} | {max(values):.3f} |"
                for name, values in m.latency.items()
            ),
            "",
            "Where the time goes, first registration → steady state:",
            "",
            *section(m.profiles),
            "",
            "Peak resident memory per process (MiB):",
            "",
            "| process | peak RSS |",
            "| --- | ---: |",
            *(
                f"| {name} | {value:.0f} |" if value is not None else f"| {name} | - |"
                for name, value in m.memory.items()
            ),
        ]
    return "\n".join(lines)
