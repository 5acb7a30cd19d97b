"""One city run on a running stack: load, let the platform work, the people's steps, the report."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from infra.city.data import City
from infra.city.load import Registered, Urls, load_city
from infra.city.operators import Models, Operators
from infra.city.report import (
    Report,
    all_figures,
    automated_accuracy,
    cross_region_status,
    final_accuracy,
    gateway_figures,
    outcomes,
    predicted_automated,
    same_figures,
)
from infra.city.settle import backlog, settle
from services.kit import clock
from services.kit.clock import SimulatedClock


@dataclass
class Run:
    report: Report
    registered: Registered
    automated: dict[str, str]
    """household_id -> automated outcome after the first steady state"""


async def run_city(
    city: City,
    urls: Urls,
    *,
    models: Models | None = None,
    say: Callable[[str], None] = print,
    quiet_s: float = 3.0,
) -> Run:
    """`quiet_s`: how long nothing may move before the state counts as steady (settle.py)."""
    if urls.clock_file is not None:  # the loader keeps the stack's time (its signatures, its dates)
        clock.install(SimulatedClock(urls.clock_file))
    models = models or Models()
    seconds: dict[str, float] = {}
    started = time.monotonic()

    def lap(name: str, since: float) -> float:
        now = time.monotonic()
        seconds[name] = now - since
        return now

    registered, counts = await load_city(city, urls, say=say, run_id=uuid.uuid4().hex[:8])
    mark = lap("load", started)
    seconds["steady_after_load"] = await settle(urls, quiet_s=quiet_s)
    seconds["ingest_to_steady_state"] = time.monotonic() - started
    mark = time.monotonic()
    say(f"steady state {seconds['ingest_to_steady_state']:.1f} s after the first registration")

    # Reads (cases, warnings, figures) as the bureau's auditor; each operator's step names its operator.
    auth = urls.auth("city-demo.auditor", "auditor")
    async with httpx.AsyncClient(timeout=120.0, trust_env=False, auth=auth) as client:
        automated = await outcomes(client, urls, city)
        ops = Operators(city, urls, registered, client, models)
        confirmed = await ops.detect_and_inspect()
        say(f"detection: {len(ops.work.warnings_seen)} warnings visited, {len(confirmed)} confirmed")
        await settle(urls, quiet_s=quiet_s)
        await ops.credit_list_sublets()

        manual = [hid for hid, outcome in automated.items() if outcome == "needs_manual"]
        await ops.request_records(manual)
        await settle(urls, quiet_s=quiet_s)
        reviewed = await ops.review_open_cases()
        say(f"four-eyes review: {reviewed} cases, {ops.work.sent_back} sent back")
        mark = lap("people_review", mark)
        await settle(urls, quiet_s=quiet_s)

        # Offers follow the exit decisions (already settled), independently of the keys.
        await ops.households_leave()
        await ops.accept_offers()
        await settle(urls, quiet_s=quiet_s)
        exited = await exited_households(client, urls, sorted(ops.work.final))
        await ops.move_in(exited)
        await ops.run_training()
        await ops.report_jobs()
        await settle(urls, quiet_s=quiet_s)
        lap("people_after_review", mark)

        latest = await outcomes(client, urls, city)
        figures = await all_figures(client, urls)
        console = await gateway_figures(client, urls)
        cross_region = await cross_region_status(client, urls)
        state = await backlog(client, urls)

    ids = registered.household_ids
    warnings_expected: Counter[str] = Counter(w for t in city.households for w in t.expected_warnings)
    warned = {(w["household_id"], w["condition"]) for w in ops.work.warnings_seen}
    expected_pairs = {(ids[t.ref], w) for t in city.households for w in t.expected_warnings}
    seconds["total"] = time.monotonic() - started
    report = Report(
        city=city,
        counts=counts,
        figures=figures,
        automated=automated_accuracy(city, ids, automated),
        predicted=predicted_automated(city),
        final=final_accuracy(city, ids, latest, ops.work.final),
        work=ops.work,
        models=models,
        cross_region_households=cross_region.get("matched", 0),
        cross_region=cross_region,
        seconds={**counts.seconds, **seconds},
        warnings_expected=warnings_expected,
        warned_as_expected=len(expected_pairs & {(h, CONDITION.get(c, c)) for h, c in warned}),
        expected_warned_households=len(expected_pairs),
        deadletters=state.deadletters,
        gateway_figures_match=same_figures(figures, console),
        automated_outcomes=Counter(automated.values()),
    )
    return Run(report=report, registered=registered, automated=automated)


CONDITION = {"vacancy": "vacancy", "sublet_or_lend": "sublet_or_lend"}


async def exited_households(client: httpx.AsyncClient, urls: Urls, household_ids: list[str]) -> set[str]:
    """Households penalties has closed with the keys back (its ledger says so on the timeline)."""
    exited: set[str] = set()
    for household_id in household_ids:
        view = (await client.get(f"{urls['monitoring']}/households/{household_id}")).json()
        if view.get("status") == "exited":
            exited.add(household_id)
    return exited
