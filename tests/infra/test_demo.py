"""`make demo` end to end at a tiny scale: the real stack (nats-server, every service, the peer cities,
the gateway; free ports, so a running `make run` is no obstacle) loaded with a synthetic city through the
public intake, worked by the simulated people, and the report checked against the ground truth."""

from __future__ import annotations

import base64
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from infra.city.data import EXIT, FOSHAN, RETAIN, load_city, write_population
from infra.city.procfile import city_specs, write_procfile
from infra.demo import run_demo
from infra.stack import demo_federation, start_stack
from services.kit import clock
from tests.support.nats import free_port

pytestmark = pytest.mark.timeout(900)  # the whole stack on a loaded 2-core machine

SCALE = Decimal("0.02")
"""The smallest scale with a household only a neighbour city knows about (48 in Foshan: 1 here)."""


def test_a_small_city_through_the_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "NATS_URL", "POSTGRES_SCHEMA"):
        monkeypatch.delenv(name, raising=False)
    # as a bureau deploys it: every service's events encrypted at rest (the owning service's store is
    # the one place an ID number lives, and there only encrypted)
    monkeypatch.setenv("CIPHER_KEY", base64.b64encode(os.urandom(32)).decode())
    population = tmp_path / "population"
    var_dir = tmp_path / "var"
    linkage = demo_federation(var_dir, echo=False) / "linkage"  # the keys the subject hashes use
    write_population(population, scale=SCALE, seed=2026, as_of=clock.local_today(FOSHAN), linkage_dir=linkage)
    city = load_city(population)
    specs = city_specs(population, var_dir=var_dir, port_of=lambda name, port: free_port())
    procfile = write_procfile(specs, tmp_path / "Procfile")
    with start_stack(
        procfile=procfile,
        var_dir=var_dir,
        nats_port=free_port(),
        nats_http_port=free_port(),
        echo=False,
    ) as stack:
        assert {"federation-zs", "federation-zq"} <= set(stack.services)  # every city of the directory
        run, checks = run_demo(stack, population, quiet_s=1.5)
    report = run.report
    failed = [c.what for c in checks if not c.ok]
    assert not failed

    # Every household in a unit registered, and each one's automated outcome is the truth's once every
    # neighbour city has answered: eligibility's sweep asked them about every household.
    households = len(city.households)
    assert {t.ref for t in city.households} <= set(run.registered.household_ids)
    assert report.figures["eligibility"]["households"] == len(run.registered.household_ids)
    for truth in city.households:
        automated = run.automated[run.registered.household_ids[truth.ref]]
        assert automated == truth.expected_with_cross_region, truth.ref
    predicted_correct = sum(
        1
        for t in city.households
        if (t.expected_with_cross_region, t.correct) in {("exit_triggered", EXIT), ("qualifies", RETAIN)}
    )
    assert report.automated.correct == predicted_correct
    assert report.automated.total == households

    # The households only a neighbour city knows about are found, and nothing is left unchecked.
    peer_only = [t for t in city.households if t.cross_region_matches and not t.exit_triggers]
    assert peer_only and all(t.expected_decision == "qualifies" for t in peer_only)
    matched = sum(1 for t in city.households if t.cross_region_matches)
    assert report.cross_region_households >= matched
    assert report.cross_region["never_checked"] == 0 and report.cross_region["due"] == 0
    # `unverified` only where no subject hashes were put to federation (the population has them for
    # households in units: those on a rent subsidy, when registered, are answered `unverified`)
    assert report.cross_region["unverified"] <= report.cross_region["households"] - households

    # Every flat the truth says should be warned was warned; inspectors confirmed exactly the real ones.
    assert report.expected_warned_households > 0
    assert report.warned_as_expected == report.expected_warned_households
    confirmed = report.figures["monitoring"]["violations_confirmed_by_kind"]
    truth_kinds = {
        k: sum(1 for t in city.households if t.kind == k and t.expected_warnings)
        for k in ("sublet", "lend", "vacant")
    }
    assert {k: confirmed.get(k, 0) for k in truth_kinds} == truth_kinds
    assert report.figures["penalties"]["households_penalised"] == sum(truth_kinds.values())

    # Four eyes on every case: each approved by someone other than who proposed, as eligibility recorded.
    cases = sum(report.figures["eligibility"]["cases_by_status"].values())
    assert cases > 0
    assert (
        len(report.work.four_eyes) == cases == report.figures["eligibility"]["cases_by_status"].get("decided")
    )
    assert all(proposer != approver for proposer, approver in report.work.four_eyes)
    # The records the automated review lacked were asked through the platform and each answered by
    # its department's own system at the gateway.
    undecided = sum(1 for outcome in run.automated.values() if outcome == "needs_manual")
    requests = report.figures["eligibility"]["record_requests"]
    assert undecided > 0 and sum(report.work.refetched.values()) == undecided
    assert requests["asked"] == requests["answered"] == report.work.requests_answered == undecided
    assert requests["open"] == 0
    # After the re-review nothing is left undecided, and only the stated errors remain.
    assert sum(report.final.confusion[t]["undecided"] for t in (EXIT, RETAIN)) == 0
    uncaught = report.work.wrong_proposals - report.work.sent_back
    assert report.final.correct == households - uncaught

    # The console's dashboard shows the same numbers; the report is written without an ID number.
    assert report.gateway_figures_match is True
    text = report.markdown()
    assert "| review accuracy, automated first review |" in text and "| 78 % |" in text
    id_numbers = {
        m["id_number"]
        for line in (population / "households.ndjson").read_text().splitlines()
        for m in json.loads(line)["members"]
    }
    assert not any(number in text for number in id_numbers)

    # No ID number in clear anywhere the platform wrote: every log, the NATS store (every stream, so
    # every message on the bus), every service's store and side file, the federation audit log.
    assert id_numbers and any(
        n.encode() in (population / "households.ndjson").read_bytes() for n in id_numbers
    )
    any_number = re.compile(b"|".join(re.escape(n.encode()) for n in sorted(id_numbers)))
    leaks = {
        str(path.relative_to(var_dir)): found.group().decode()
        for path in var_dir.rglob("*")
        if path.is_file()
        for found in [any_number.search(path.read_bytes())]
        if found is not None
    }
    assert not leaks, leaks
