"""Cross-region checks: federation's answers through the inbox handler and a unit of work (a peer that
could not verify keeps the household in manual review; an answer to an older check changes nothing), the
periodic sweep that asks about every household when it is due, operators' sweep orders, and two
sweeping processes on one store over a real nats-server; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported
from contracts.envelope import Envelope
from contracts.federation import CrossRegionResultRecorded
from services.eligibility.application import Actor, EligibilityApp, MemberInput
from services.eligibility.handlers import cross_region_handler
from services.eligibility.rules import ParameterValue
from services.eligibility.service import build
from services.eligibility.settings import EligibilitySettings
from services.eligibility.sweeper import sweep
from services.eligibility.translate import make_translator
from services.kit.bus import connect, ensure_streams
from services.kit.codec import Incoming
from services.kit.uow import UnitOfWork
from tests.eligibility.conftest import Clock
from tests.eligibility.test_api import TODAY
from tests.eligibility.test_bus import read_stream
from tests.support.identity import as_operator
from tests.support.nats import NatsServer

IDS = ["440604198507151234", "44060419900101123X", "440604197203030021", "440604198811110015"]


def answer(household: object, check: object, city: str, result: str) -> Incoming:
    spec = EVENTS_BY_TYPE[("housing.federation.cross-region-result-recorded", 1)]
    payload = CrossRegionResultRecorded.model_validate(
        {
            "check_id": check,
            "household_id": household,
            "city": city,
            "result": result,
            "holds_subsidised_housing": None,
            "receives_housing_subsidy": None,
            "owns_property_over_threshold": None,
            "reason": "peer did not answer in time" if result == "unverified" else None,
            "query_ids": [],
            "concluded_at": datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        }
    )
    envelope = Envelope(
        specversion="1.0",
        id=str(uuid4()),
        source="/housing/federation",
        type=spec.type,
        subject=str(household),
        time=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        dataschema=spec.dataschema,
        data=payload.model_dump(mode="json"),
    )
    return Incoming(spec, envelope, payload, "FEDERATION", 1)


def fact(household: object, reference: str, kind: dict[str, str]) -> DepartmentFactReported:
    return DepartmentFactReported.model_validate(
        {
            "department": "civil_affairs" if kind["kind"] == "income" else "finance",
            "reference": reference,
            "described_on": TODAY,
            "household_id": household,
            "fact": kind,
        }
    )


def test_an_unverified_peer_keeps_the_household_in_manual_review(eligibility: EligibilityApp) -> None:
    household = eligibility.register_household(
        region="CN-FS",
        estate="Nanhai Court",
        building="1",
        unit="101",
        base_rent=Decimal("600.00"),
        tenancy_start=date(2020, 1, 1),
        members=[MemberInput("440604198507151234", date(1985, 7, 15), False)],
    ).id
    eligibility.ingest([fact(household, "i-1", {"kind": "income", "monthly_income": "4200.00"})])
    opened = eligibility.household(household)
    assert opened.open_case is not None and opened.check_id is not None
    # income corrected below the threshold; assets known: it would qualify on local data alone
    eligibility.ingest(
        [
            fact(household, "i-2", {"kind": "income", "monthly_income": "3000.00"}),
            fact(household, "f-1", {"kind": "financial_assets", "amount": "10.00"}),
        ]
    )
    assert eligibility.household(household).outcome == "qualifies"

    handle = cross_region_handler(eligibility)
    uow = UnitOfWork(eligibility)
    handle(answer(household, opened.check_id, "CN-GZ", "no_match"), uow)
    handle(answer(household, opened.check_id, "CN-ZQ", "unverified"), uow)
    handle(answer(household, uuid4(), "CN-DG", "match"), uow)  # an older check: ignored
    uow.commit(None)
    current = eligibility.household(household)
    assert current.cross_region == {"CN-GZ": "no_match", "CN-ZQ": "unverified"}
    assert current.outcome == "needs_manual"
    rule = current.decision.data["rules"][-1] if current.decision else None
    assert rule is not None and rule["rule"] == "cross_region" and rule["status"] == "unverified"

    uow = UnitOfWork(eligibility)
    handle(answer(household, opened.check_id, "CN-DG", "match"), uow)
    uow.commit(None)
    assert eligibility.household(household).outcome == "exit_triggered"


# -- the periodic sweep ------------------------------------------------------------------------------

CITIES = ["CN-GZ", "CN-DG", "CN-ZS", "CN-ZQ"]


def register(eligibility: EligibilityApp, unit: str, id_number: str, estate: str = "Nanhai Court") -> UUID:
    return eligibility.register_household(
        region="CN-FS",
        estate=estate,
        building="1",
        unit=unit,
        base_rent=Decimal("600.00"),
        tenancy_start=date(2020, 1, 1),
        members=[MemberInput(id_number, date(1985, 7, 15), False)],
    ).id


def clean_facts(household: UUID, tag: str) -> list[DepartmentFactReported]:
    """Income and assets well under the thresholds: qualifies on Foshan's own data."""
    return [
        fact(household, f"i-{tag}", {"kind": "income", "monthly_income": "2000.00"}),
        fact(household, f"f-{tag}", {"kind": "financial_assets", "amount": "10.00"}),
    ]


def published_checks(eligibility: EligibilityApp, tmp_path: Path) -> list[dict[str, Any]]:
    """What the relay would publish as `cross-region-check-requested`, in order."""
    translate = make_translator(EligibilitySettings(var_dir=tmp_path))
    found = []
    for notification in eligibility.notification_log.select(start=1, limit=1000):
        for out in translate(eligibility.mapper.to_domain_event(notification)):
            if out.spec.name == "cross-region-check-requested":
                found.append(json.loads(out.payload.model_dump_json()))
    return found


def answer_all(eligibility: EligibilityApp, household: UUID, results: dict[str, str]) -> None:
    check = eligibility.household(household).check_id
    handle = cross_region_handler(eligibility)
    uow = UnitOfWork(eligibility)
    for city, result in results.items():
        handle(answer(household, check, city, result), uow)
    uow.commit(None)


def sweep_once(eligibility: EligibilityApp) -> int:
    stop = asyncio.Event()
    return asyncio.run(sweep(eligibility, stop))


def test_the_sweep_asks_once_per_household_due_and_again_only_when_due(
    eligibility: EligibilityApp, clock: Clock, tmp_path: Path
) -> None:
    decided = [register(eligibility, f"10{i}", id_number) for i, id_number in enumerate(IDS[:2])]
    for n, household in enumerate(decided):
        eligibility.ingest(clean_facts(household, str(n)))
    waiting = register(eligibility, "201", IDS[2])  # no fact yet: its subject hashes may still come
    assert {eligibility.household(h).outcome for h in decided} == {"qualifies"}

    assert sweep_once(eligibility) == 2
    checks = published_checks(eligibility, tmp_path)
    assert sorted(c["household_id"] for c in checks) == sorted(str(h) for h in decided)
    assert all(c["purpose"] == "eligibility-review" and c["cities"] == CITIES for c in checks)
    assert sweep_once(eligibility) == 0  # asked, waiting for the answers: not again
    for household in decided:
        answer_all(eligibility, household, dict.fromkeys(CITIES, "no_match"))
    assert eligibility.household(decided[0]).outcome == "qualifies"

    # registered without a decision: due once the intake had time to send its subjects
    registered_on = eligibility.household(waiting).created_on  # stamped by the test clock
    assert registered_on is not None
    clock.now = registered_on + timedelta(seconds=eligibility.config.cross_region_first_check_after_s - 1)
    assert eligibility.cross_region_due() == []
    clock.now += timedelta(seconds=2)
    assert eligibility.cross_region_due() == [(waiting, "first check")]
    assert sweep_once(eligibility) == 1
    answer_all(eligibility, waiting, dict.fromkeys(CITIES, "no_match"))

    # Foshan's parameter: a year (364 days later nothing is due; 365 days later everyone is)
    clock.now += timedelta(days=364)
    assert sweep_once(eligibility) == 0
    clock.now += timedelta(days=1)
    assert sorted(eligibility.cross_region_due()) == sorted(
        (h, "annual recheck") for h in [*decided, waiting]
    )
    assert sweep_once(eligibility) == 3
    assert len(published_checks(eligibility, tmp_path)) == 6


def test_the_sweep_waits_while_its_checks_wait_for_the_peers(eligibility: EligibilityApp) -> None:
    """At most `cross_region_sweep_max_in_flight` checks unanswered: federation asks all open checks
    at once, so the sweep goes no faster than the peers answer. Each sweep runs until it has found the
    limit reached three times without asking more (or until it ends by itself, which it must not: some
    households are still due), never for a fixed time a slow machine may not get far enough in."""
    households = [register(eligibility, f"10{i}", id_number) for i, id_number in enumerate(IDS)]
    for n, household in enumerate(households):
        eligibility.ingest(clean_facts(household, str(n)))
    eligibility.config.cross_region_sweep_batch = 1
    eligibility.config.cross_region_sweep_pause_s = 0.01
    eligibility.config.cross_region_sweep_max_in_flight = 2

    in_flight = eligibility.cross_region_in_flight
    polls_at_limit = 0

    def counted() -> int:
        nonlocal polls_at_limit
        found = in_flight()
        polls_at_limit += found >= eligibility.config.cross_region_sweep_max_in_flight
        return found

    vars(eligibility)["cross_region_in_flight"] = counted  # the sweep's view of its checks in flight

    async def sweep_until_held() -> int:
        nonlocal polls_at_limit
        polls_at_limit = 0
        stop = asyncio.Event()
        running = asyncio.create_task(sweep(eligibility, stop))
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 60.0
        while not running.done() and polls_at_limit < 3:
            assert loop.time() < give_up, "within 60 s the sweep neither ended nor waited at the limit"
            await asyncio.sleep(0.01)
        stop.set()
        return await running

    try:
        assert asyncio.run(sweep_until_held()) == 2
        assert eligibility.cross_region_status()["awaiting_answers"] == 2
        asked = [h for h in households if eligibility.household(h).check_id is not None]
        answer_all(eligibility, asked[0], dict.fromkeys(CITIES, "no_match"))
        assert asyncio.run(sweep_until_held()) == 1
    finally:
        del vars(eligibility)["cross_region_in_flight"]
    assert eligibility.cross_region_status() | {"households": 4} == {
        "households": 4,
        "never_checked": 1,
        "awaiting_answers": 2,
        "due": 1,
        "matched": 0,
        "unverified": 0,
    }


def test_a_dated_recheck_value_and_an_unverified_city_make_a_household_due_sooner(
    eligibility: EligibilityApp, clock: Clock
) -> None:
    household = register(eligibility, "101", IDS[0])
    eligibility.ingest(clean_facts(household, "a"))
    assert sweep_once(eligibility) == 1
    answer_all(eligibility, household, {**dict.fromkeys(CITIES, "no_match"), "CN-ZQ": "unverified"})
    assert eligibility.household(household).outcome == "needs_manual"  # never "clear"
    assert sweep_once(eligibility) == 0
    clock.now += timedelta(seconds=eligibility.config.cross_region_retry_s + 1)
    assert eligibility.cross_region_due() == [(household, "a city unverified")]
    assert sweep_once(eligibility) == 1
    answer_all(eligibility, household, dict.fromkeys(CITIES, "no_match"))
    assert eligibility.household(household).outcome == "qualifies"

    supervisor = Actor("supervisor.wu", "supervisor")
    value = ParameterValue(
        rule="cross_region_recheck_days",
        region="CN-FS",
        effective_from=clock.now.date(),
        value=Decimal("30"),
        unit="days",
        legal_reference="bureau notice: monthly checks",
    )
    eligibility.add_parameter_value(value, supervisor, "quarterly audit found stale checks")
    clock.now += timedelta(days=29)
    assert eligibility.cross_region_due() == []
    clock.now += timedelta(days=1)
    assert eligibility.cross_region_due() == [(household, "annual recheck")]


def test_a_peer_positive_answer_triggers_an_exit_and_a_case_naming_the_city(
    eligibility: EligibilityApp,
) -> None:
    household = register(eligibility, "101", IDS[0])
    eligibility.ingest(clean_facts(household, "a"))
    assert sweep_once(eligibility) == 1
    sweep_check = eligibility.household(household).check_id

    answer_all(eligibility, household, {"CN-GZ": "no_match", "CN-DG": "match"})
    current = eligibility.household(household)
    assert current.outcome == "exit_triggered"
    assert current.decision is not None
    rule = next(r for r in current.decision.data["rules"] if r["rule"] == "cross_region")
    assert rule["status"] == "exit" and "CN-DG" in rule["comparison"] and "CN-GZ" not in rule["comparison"]
    # the case asks again (purpose exit-review); the match stands while it is asked
    assert current.open_case is not None and current.check_id != sweep_check
    assert eligibility.case(current.open_case).status == "open"
    answer_all(eligibility, household, {"CN-GZ": "no_match"})
    assert eligibility.household(household).outcome == "exit_triggered"
    answer_all(eligibility, household, {"CN-DG": "no_match", "CN-ZS": "no_match", "CN-ZQ": "no_match"})
    assert eligibility.household(household).outcome == "qualifies"  # Dongguan's record is gone


def test_a_peer_down_keeps_a_sweep_checked_household_in_manual_review(eligibility: EligibilityApp) -> None:
    household = register(eligibility, "101", IDS[0])
    eligibility.ingest(clean_facts(household, "a"))
    sweep_once(eligibility)
    answer_all(eligibility, household, {"CN-GZ": "no_match", "CN-DG": "unverified"})
    current = eligibility.household(household)
    assert current.outcome == "needs_manual" and current.open_case is None
    assert eligibility.cross_region_status()["unverified"] == 1


async def test_an_operator_orders_a_sweep_of_an_estate(
    eligibility: EligibilityApp, client: httpx.AsyncClient, tmp_path: Path, clock: Clock
) -> None:
    nanhai = [register(eligibility, f"10{i}", IDS[i]) for i in range(2)]
    other = register(eligibility, "301", IDS[2], estate="Shunde Garden")
    for n, household in enumerate([*nanhai, other]):
        eligibility.ingest(clean_facts(household, str(n)))
    assert await asyncio.to_thread(sweep_once, eligibility) == 3
    for household in [*nanhai, other]:
        answer_all(eligibility, household, dict.fromkeys(CITIES, "no_match"))

    clock.now += timedelta(minutes=5)
    body = {"estate": "Nanhai Court", "reason": "tip-off: owners in Guangzhou"}
    refused = await client.post(
        "/cross-region/sweeps", json=body, headers=as_operator("r.li", "reviewer", "eligibility")
    )
    assert refused.status_code == 403
    ordered = await client.post(
        "/cross-region/sweeps", json=body, headers=as_operator("s.wu", "supervisor", "eligibility")
    )
    assert ordered.status_code == 202 and ordered.json()["requested"] == 2
    status = (await client.get("/cross-region/status")).json()
    assert status["due"] == 2 and status["households"] == 3
    assert await asyncio.to_thread(sweep_once, eligibility) == 2
    asked = [c["household_id"] for c in published_checks(eligibility, tmp_path)[3:]]
    assert sorted(asked) == sorted(str(h) for h in nanhai)
    assert await asyncio.to_thread(sweep_once, eligibility) == 0


async def test_two_runtimes_sweeping_one_store_ask_each_household_once(
    nats_server: NatsServer, tmp_path: Path, persistence: dict[str, str]
) -> None:
    """Both processes run the sweep loop with a short interval; the lease lets one of them sweep, and
    even a second sweeper would find the households no longer due on their stored state."""
    nc = await connect(nats_server.url, "test-reader", identity="admin")
    await ensure_streams(nc.jetstream())
    await nc.close()
    runtimes = []
    apps = []
    for port in (18_901, 18_902):
        settings = EligibilitySettings(
            nats_url=nats_server.url,
            var_dir=tmp_path / str(port),
            http_port=port,
            cross_region_sweep_interval_s=0.2,
            cross_region_sweep_batch=3,
            cross_region_sweep_pause_s=0.05,
            lease_ttl_s=3.0,
        )
        api, app = build(settings, persistence)
        runtimes.append(api.state.runtime)
        apps.append(app)
    for runtime in runtimes:
        await runtime.start()
    try:
        first, second = apps
        households = []
        for n, id_number in enumerate(IDS):
            app = first if n % 2 else second
            households.append(await asyncio.to_thread(register, app, f"5{n:02d}", id_number))
            await asyncio.to_thread(app.ingest, clean_facts(households[-1], str(n)))
        checks = await read_stream(
            nats_server.url, "ELIGIBILITY", "housing.eligibility.cross-region-check-requested", len(IDS)
        )
        await asyncio.sleep(1.0)  # a few more sweeps of both processes: nothing more is asked
        checks = await read_stream(
            nats_server.url,
            "ELIGIBILITY",
            "housing.eligibility.cross-region-check-requested",
            len(IDS) + 1,
            1.0,
        )
        asked = sorted(c["subject"] for c in checks)
        assert asked == sorted(str(h) for h in households)
        assert all(c["data"]["purpose"] == "eligibility-review" for c in checks)
    finally:
        for runtime in runtimes:
            await runtime.stop()
