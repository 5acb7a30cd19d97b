"""Faults across the whole stack (issue 10, item 4): kill -9 nats-server, a service and PostgreSQL,
and cut or stall the services' NATS connections, while a department feed is in progress; afterwards
every fact must have led to exactly the decisions and downstream events of a fault-free run.

Two stack starts, both on a PostgreSQL server of our own (`tests/faults/postgres.py`, so that it can
be killed): a fault-free baseline, then the same feed with a fault in the middle of several rounds.
The services reach nats-server through a chaos proxy (`infra/chaos/proxy.py`) in both runs; the
departments and the test's own reader talk to nats-server directly. How the feed is made
timing-independent, and what is normalised before comparing: `tests/faults/scenario.py`.

`FAULTS_FULL=1` (for `make soak`) runs a larger feed and also kills every other service in turn,
nats-server and PostgreSQL during the re-review, and stalls the link for longer.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.chaos.proxy import Mode, ProxyThread
from infra.stack import Stack, restart_nats, restart_service
from tests.faults.postgres import PrivatePostgres
from tests.faults.scenario import (
    Driver,
    FaultRecord,
    Outcome,
    counts,
    differences,
    make_feed,
    offered_units,
    outcome,
    read_streams,
    send_with_fault,
)
from tests.faults.stack import fault_stack
from tests.support.nats import free_port

FULL = os.environ.get("FAULTS_FULL", "") not in ("", "0")
HOUSEHOLDS, ROUNDS = (30, 24) if FULL else (20, 14)
REPORT = os.environ.get("FAULTS_REPORT")
"""a file to write the figures to (JSON), for docs/reliability.md"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800 if FULL else 900)]


@dataclass
class Run:
    outcome: Outcome
    household_ids: list[str]
    statuses: Counter[str]
    faults: list[FaultRecord] = field(default_factory=list)
    seconds: float = 0.0
    http_retries: int = 0
    nats_retries: int = 0
    restarted_after_fault: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.init()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def clean_env() -> Iterator[None]:
    """The stack's processes inherit our environment: no store, bus or key of the developer's."""
    names = ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "NATS_URL", "POSTGRES_SCHEMA", "CIPHER_KEY")
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


Faults = dict[int, tuple[str, Callable[["Chaos"], dict[str, object]]]]


@dataclass
class Chaos:
    """What a fault may break, and repair."""

    stack: Stack
    proxy: ProxyThread
    postgres: PrivatePostgres
    driver: Driver
    restarted: list[str] = field(default_factory=list)

    def kill_nats(self) -> dict[str, object]:
        self.stack.nats.child.process.send_signal(signal.SIGKILL)
        self.stack.nats.child.process.wait()
        time.sleep(1.0)  # long enough for every client to notice and start reconnecting
        return {"restart_s": round(restart_nats(self.stack.nats, echo=False), 2)}

    def kill_service(self, name: str) -> dict[str, object]:
        process = self.stack.services[name].child.process
        process.send_signal(signal.SIGKILL)
        process.wait()
        return {"service": name, "restart_s": round(restart_service(self.stack, name), 2)}

    def cut(self, mode: Mode, seconds: float) -> dict[str, object]:
        before = self.proxy.status()
        self.proxy.set_mode(mode)
        time.sleep(seconds)
        self.proxy.set_mode(Mode.PASS)
        after = self.proxy.status()
        changed = {k: int(after[k]) - int(before[k]) for k in ("aborted", "refused", "stalled")}  # type: ignore[call-overload]
        return {"mode": mode.value, "seconds": seconds, **changed}

    def kill_postgres(self) -> dict[str, object]:
        self.postgres.kill()
        time.sleep(1.0)
        restart = self.postgres.start()
        # A service that gave up on its database is started again, as a supervisor would; the test
        # reports which did, since "exits when its database goes away" is worth knowing.
        time.sleep(2.0)
        died = [n for n, s in self.stack.services.items() if s.child.process.poll() is not None]
        for name in died:
            restart_service(self.stack, name)
        self.restarted += died
        return {"restart_s": round(restart, 2), "services_restarted": died}


def default_faults() -> tuple[Faults, Faults]:
    """(faults in the middle of a round of facts, faults during the re-review)."""
    rounds: Faults = {
        1: ("nats-server kill -9", lambda c: c.kill_nats()),
        4: ("eligibility kill -9", lambda c: c.kill_service("eligibility")),
        7: ("proxy drop 3 s", lambda c: c.cut(Mode.DROP, 3.0)),
        9: ("proxy stall 8 s", lambda c: c.cut(Mode.STALL, 8.0)),
        12: ("postgres kill -9", lambda c: c.kill_postgres()),
    }
    review: Faults = {0: ("penalties kill -9", lambda c: c.kill_service("penalties"))}
    if FULL:
        rounds.update(
            {
                3: ("federation kill -9", lambda c: c.kill_service("federation")),
                6: ("monitoring kill -9", lambda c: c.kill_service("monitoring")),
                11: ("proxy stall 40 s", lambda c: c.cut(Mode.STALL, 40.0)),
                14: ("eligibility kill -9 (NATS round)", lambda c: c.kill_service("eligibility")),
                16: ("training kill -9", lambda c: c.kill_service("training")),
                18: ("nats-server kill -9", lambda c: c.kill_nats()),
                20: ("postgres kill -9", lambda c: c.kill_postgres()),
                22: ("proxy drop 10 s", lambda c: c.cut(Mode.DROP, 10.0)),
            }
        )
        review.update({1: ("resettlement kill -9", lambda c: c.kill_service("resettlement"))})
    return rounds, review


def run_feed(
    tmp: Path, postgres: PrivatePostgres, database: str, faults: Faults, review_faults: Faults
) -> Run:
    started = time.monotonic()
    feed = make_feed(HOUSEHOLDS, ROUNDS)
    env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", **postgres.create_database(database)}
    nats_port = free_port()
    with (
        ProxyThread(target_port=nats_port) as proxy,
        fault_stack(tmp, extra_env=env, services_nats_url=proxy.url, nats_port=nats_port) as (
            stack,
            endpoints,
        ),
    ):
        driver = Driver(endpoints, feed)
        chaos = Chaos(stack, proxy, postgres, driver)
        records: list[FaultRecord] = []
        driver.register()
        driver.settle()
        for round_no in range(len(feed.rounds)):
            if round_no in faults:
                name, fault = faults[round_no]
                records.append(send_with_fault(driver, round_no, lambda f=fault: f(chaos), name))  # type: ignore[misc]
            else:
                driver.send_round(round_no)
                driver.settle()
        reviewed = _review(driver, chaos, review_faults, records)
        assert reviewed > 0, "the feed opened no review case: nothing downstream to compare"
        driver.settle(quiet_s=1.5)
        raw = read_streams(endpoints.nats_url, credentials=endpoints.credentials)
        twice = [unit for unit, n in offered_units(raw).items() if n > 1]
        assert not twice, f"units offered twice: {twice}"
        result = outcome(raw, driver.household_ids, driver.member_ids)
        stack.check_alive()
    return Run(
        outcome=result,
        household_ids=driver.household_ids,
        statuses=driver.statuses,
        faults=records,
        seconds=time.monotonic() - started,
        http_retries=driver.http_attempts_failed,
        nats_retries=driver.nats_attempts_failed,
        restarted_after_fault=chaos.restarted,
    )


def _review(driver: Driver, chaos: Chaos, faults: Faults, records: list[FaultRecord]) -> int:
    """The four-eyes re-review of every case, with the review faults injected while it runs (each
    approval sends an exit decision to penalties, resettlement and training)."""
    if not faults:
        return driver.review_cases()
    done: list[int] = []
    errors: list[BaseException] = []

    def review() -> None:
        try:
            done.append(driver.review_cases())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=review, name="review")
    worker.start()
    starts: list[float] = []
    for number in sorted(faults):
        time.sleep(0.5)
        name, fault = faults[number]
        began = time.monotonic()
        starts.append(began)
        record = FaultRecord(name, -1, detail=fault(chaos))
        driver.wait_ready()
        record.recovered_s = time.monotonic() - began
        records.append(record)
    worker.join(timeout=300)
    if errors:
        raise errors[0]
    driver.settle()
    for record, began in zip(records[-len(faults) :], starts, strict=True):
        record.settled_s = time.monotonic() - began
    return done[0]


def _check_each_fact_once(run: Run, facts: int) -> None:
    references = Counter(
        event["data"]["reference"]
        for key, events in run.outcome.items()
        if key.startswith("ELIGIBILITY ")
        for event in events
        if event["type"] == "housing.eligibility.fact-recorded"
    )
    twice = [r for r, n in references.items() if n > 1]
    assert len(references) == facts and not twice, (
        f"{len(references)} of {facts} recorded; twice: {twice[:5]}"
    )


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, postgres: PrivatePostgres, clean_env: None) -> Run:
    run = run_feed(tmp_path_factory.mktemp("baseline"), postgres, "faults_baseline", {}, {})
    _check_each_fact_once(run, make_feed(HOUSEHOLDS, ROUNDS).facts)
    return run


def test_the_fault_free_run_reaches_every_service(baseline: Run) -> None:
    """The comparison is only worth something if the feed's effects reach every service."""
    totals = counts(baseline.outcome)
    streams = {key.split(" ")[0] for key in totals}
    assert {"ELIGIBILITY", "FEDERATION", "PENALTIES", "RESETTLEMENT", "TRAINING"} <= streams, totals
    assert totals.get("ELIGIBILITY housing.eligibility.exit-decided", 0) > 0
    assert not any(key.startswith("DEADLETTER") for key in baseline.outcome)


def test_after_every_fault_the_outcome_is_the_fault_free_one(
    baseline: Run, tmp_path_factory: pytest.TempPathFactory, postgres: PrivatePostgres, clean_env: None
) -> None:
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    rounds, review = default_faults()
    run = run_feed(tmp_path_factory.mktemp("faults"), postgres, "faults_injected", rounds, review)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)

    figures: dict[str, Any] = {
        "households": HOUSEHOLDS,
        "rounds": ROUNDS,
        "facts": make_feed(HOUSEHOLDS, ROUNDS).facts,
        "events_compared": sum(len(v) for v in run.outcome.values()),
        "events_by_type": counts(run.outcome),
        "faults": [
            {
                "fault": r.name,
                "round": r.round_no,
                "recovered_s": round(r.recovered_s, 2),
                "settled_s": round(r.settled_s, 2),
                **r.detail,
            }
            for r in run.faults
        ],
        "http_retries": run.http_retries,
        "nats_retries": run.nats_retries,
        "services_restarted_after_postgres": run.restarted_after_fault,
        "seconds_baseline": round(baseline.seconds, 1),
        "seconds_faults": round(run.seconds, 1),
        "stack_cpu_s_faults": round(
            cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime, 1
        ),
    }
    print(json.dumps(figures, indent=1))
    if REPORT:
        Path(REPORT).write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")

    # The faults really happened: the proxy cut and held connections, clients had to retry.
    for record in run.faults:
        mode = record.detail.get("mode")
        if mode == "drop":
            assert int(str(record.detail["aborted"])) > 0, record
        if mode == "stall":
            assert int(str(record.detail["stalled"])) > 0, record

    _check_each_fact_once(run, figures["facts"])
    found = differences(baseline.outcome, run.outcome)
    assert not found, "the outcome differs from the fault-free run:\n" + "\n".join(found)
    assert run.outcome == baseline.outcome
