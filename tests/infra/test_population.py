"""The synthetic population (infra/population): exact totals, the paper's shares, byte-for-byte
reproducibility, every line valid against the contracts and the APIs that take it, no ID number outside
the city's own registration files, and a ground truth that the platform's own rule engine and detectors
agree with when they read the generated facts and signals."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import httpx
import pytest
import yaml
from pydantic import TypeAdapter

from contracts.department import DepartmentFactReported
from contracts.monitoring import DoorAccess, UtilityReading
from federation.demo import ensure_demo
from federation.peers import load_directory
from federation.readmodel import load_book
from infra.city.data import FOSHAN
from infra.population import params as P
from infra.population.__main__ import main
from infra.population.generate import Options, generate
from infra.population.model import build, scaled
from infra.population.peers import DEFAULT_LINKAGE_DIR, linkage_file
from services.eligibility import identity, rules
from services.eligibility.api import HOUSEHOLD_IN, RentSubsidyHouseholdIn, TenancyHouseholdIn
from services.eligibility.application import EligibilityApp
from services.eligibility.service import build as build_eligibility
from services.eligibility.settings import DEV_PERSON_HASH_KEY, EligibilitySettings
from services.kit import clock as kit_clock
from services.kit.linkage import id_hash, load_linkage_key
from services.monitoring.api import CredentialIn
from services.monitoring.detectors import DetectorParams, assess_sublet, assess_vacancy
from services.monitoring.domain import HouseholdView, OccupancyBook, Register, UnitRef
from tests.support.identity import OperatorAuth

SCALE = Decimal("0.02")
AS_OF = date(2026, 11, 26)
ID_NUMBER = re.compile(r"[1-9][0-9]{16}[0-9X]")
ROOT = Path(__file__).resolve().parents[2]
FEDERATION_DEMO = DEFAULT_LINKAGE_DIR.parent
"""`make run`'s demo federation (var/federation), whose linkage keys the populations here use."""


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("population")
    generate(Options(seed=2026, scale=SCALE, as_of=AS_OF), folder)
    return folder


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(path)]


@pytest.fixture(scope="module")
def truth(out: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def raw_ids(out: Path) -> dict[str, str]:
    """person_hash → ID number, from the two registration files (the only place numbers are)."""
    found = {}
    for path in (out / "households.ndjson", out / "subsidy" / "households.ndjson"):
        for household in records(path):
            for member in household["members"]:
                found[identity.person_hash(member["id_number"], DEV_PERSON_HASH_KEY)] = member["id_number"]
    return found


def test_totals_are_the_papers_at_full_scale_and_proportional_below() -> None:
    full = build(2026, Decimal("1.0"), AS_OF, DEV_PERSON_HASH_KEY)
    assert len(full.households) == 38_600
    assert sum(len(h.members) for h in full.households) == 97_800
    assert len(full.housed) == 12_300
    assert len({(h.unit.estate, h.unit.building, h.unit.unit) for h in full.housed if h.unit}) == 12_300
    assert len(full.estates) == 28
    violating = [h for h in full.housed if h.violating]
    assert len(violating) == 1_845  # 15 % of the households in units
    sublet_or_lend = sum(h.kind in ("sublet", "lend") for h in violating)
    vacant = sum(h.kind == "vacant" for h in violating)
    assert abs(Decimal(sublet_or_lend) / len(violating) - Decimal("0.62")) < Decimal("0.001")
    assert abs(Decimal(vacant) / len(violating) - Decimal("0.28")) < Decimal("0.001")
    assert sum(bool(h.matches) for h in full.households) == 48
    assert sum(bool(h.triggers) for h in full.households) == 3_088  # 8 % of 38,600


def test_small_scale_files_have_proportional_totals_and_shares(out: Path, truth: dict[str, Any]) -> None:
    summary = json.loads((out / "summary.json").read_text())
    housed = lines(out / "households.ndjson")
    subsidised = lines(out / "subsidy" / "households.ndjson")
    assert len(housed) == scaled(P.UNITS, SCALE) == summary["totals"]["units"] == 246
    assert len(housed) + len(subsidised) == scaled(P.HOUSEHOLDS, SCALE) == 772
    people = sum(len(json.loads(line)["members"]) for line in housed + subsidised)
    assert people == scaled(P.PEOPLE, SCALE) == summary["totals"]["people"] == 1_956
    entries = truth["households"]
    assert len(entries) == 772
    in_units = [e for e in entries if e["group"] == "unit"]
    violating = [e for e in in_units if e["violating"]]
    assert abs(Decimal(len(violating)) / len(in_units) - Decimal("0.15")) <= Decimal("0.005")
    sublet_or_lend = sum(e["kind"] in ("sublet", "lend") for e in violating)
    assert abs(Decimal(sublet_or_lend) / len(violating) - Decimal("0.62")) <= Decimal("0.03")
    assert abs(
        Decimal(sum(e["kind"] == "vacant" for e in violating)) / len(violating) - Decimal("0.28")
    ) <= Decimal("0.03")
    assert not any(e["violating"] for e in entries if e["group"] == "rent_subsidy")
    triggered = sum(bool(e["exit_triggers"]) for e in entries)
    assert abs(Decimal(triggered) / len(entries) - Decimal("0.08")) <= Decimal("0.005")
    assert sum(bool(e["cross_region_matches"]) for e in entries) == scaled(P.CROSS_REGION_MATCHES, SCALE)
    assert summary["violations"]["violating"] == len(violating)
    assert summary["exit_triggers"]["households_triggered"] == triggered


def digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_same_seed_and_scale_give_byte_identical_files(out: Path, tmp_path: Path) -> None:
    """Another process (another string-hash seed, so no dependence on set order) writes the same bytes;
    another seed writes other people."""
    again = tmp_path / "again"
    command = [
        sys.executable,
        "-m",
        "infra.population",
        "--seed",
        "2026",
        "--scale",
        str(SCALE),
        "--out",
        str(again),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(command, check=True, cwd=ROOT, env=env, capture_output=True)
    generate(Options(seed=2027, scale=SCALE, as_of=AS_OF), tmp_path / "other")
    first = digests(out)
    assert len(first) == 13
    assert digests(again) == first
    other = digests(tmp_path / "other")
    assert other.keys() == first.keys()
    assert all(
        other[name] != first[name] for name in ("households.ndjson", "facts.ndjson", "door_access.ndjson")
    )


def test_every_line_is_valid_and_written_as_the_contract_writes_it(out: Path) -> None:
    for path in (out / "facts.ndjson", out / "subsidy" / "facts.ndjson"):
        for line in lines(path):
            assert DepartmentFactReported.model_validate_json(line).model_dump_json() == line
    door = TypeAdapter(DoorAccess)
    for line in lines(out / "door_access.ndjson"):
        assert door.validate_json(line).model_dump_json() == line
    for line in lines(out / "utility.ndjson"):
        assert UtilityReading.model_validate_json(line).model_dump_json() == line
    for line in lines(out / "households.ndjson"):
        body = HOUSEHOLD_IN.validate_json(line)
        assert isinstance(body, TenancyHouseholdIn)
        assert body.model_dump(mode="json", exclude_unset=True) == json.loads(line)
        assert all(identity.is_valid(m.id_number) for m in body.members)
    for line in lines(out / "subsidy" / "households.ndjson"):
        subsidised = HOUSEHOLD_IN.validate_json(line)
        assert isinstance(subsidised, RentSubsidyHouseholdIn)
        assert all(identity.is_valid(m.id_number) for m in subsidised.members)
    for credential in records(out / "credentials.ndjson"):
        CredentialIn(
            kind=credential["kind"], credential_id=credential["credential_id"], member_id=UUID(int=1)
        )
    assert not (out / "federation_subjects.ndjson").exists()  # eligibility derives them: no loader does


def test_id_numbers_appear_only_in_the_registration_files(out: Path, raw_ids: dict[str, str]) -> None:
    numbers = set(raw_ids.values())
    assert len(numbers) == 1_956  # one distinct number per person
    registration = {out / "households.ndjson", out / "subsidy" / "households.ndjson"}
    others = [p for p in sorted(out.rglob("*")) if p.is_file() and p not in registration]
    assert len(others) == 11
    for path in others:
        found = set(ID_NUMBER.findall(path.read_text(encoding="utf-8")))
        assert not found & numbers, path


def fold(
    facts: list[dict[str, Any]], member_scope: dict[str, str]
) -> dict[str, dict[str, tuple[rules.Observation, ...]]]:
    """Facts → rule inputs, as eligibility's intake does (services/eligibility/application.py,
    domain.Household._fact_recorded): income and assets per member, property per reference;
    the latest described date wins, same-date records of different departments stand side by side."""
    fields = {"income": "monthly_income", "financial_assets": "amount", "property": "area_m2"}
    folded: dict[str, dict[str, tuple[rules.Observation, ...]]] = {}
    for report in facts:
        fact = report["fact"]
        if fact["kind"] not in fields:
            continue
        scope = fact["property_ref"] if fact["kind"] == "property" else member_scope[report["person_hash"]]
        source = rules.Source(
            report["department"], report["reference"], date.fromisoformat(report["described_on"])
        )
        observation = rules.Observation(Decimal(fact[fields[fact["kind"]]]), source, scope)
        current = folded.setdefault(fact["kind"], {}).get(scope, ())
        if current and current[0].source.described_on > source.described_on:
            continue
        if current and current[0].source.described_on == source.described_on:
            folded[fact["kind"]][scope] = (
                *(o for o in current if o.source.department != source.department),
                observation,
            )
        else:
            folded[fact["kind"]][scope] = (observation,)
    return folded


def test_truth_is_what_the_rules_in_force_decide_on_the_facts(out: Path, truth: dict[str, Any]) -> None:
    owner: dict[str, str] = {}
    scope: dict[str, str] = {}
    for entry in truth["households"]:
        for index, person_hash in enumerate(entry["members"]):
            owner[person_hash] = entry["ref"]
            scope[person_hash] = f"member-{index}"
    by_household: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in (out / "facts.ndjson", out / "subsidy" / "facts.ndjson"):
        for report in records(path):
            by_household[owner[report["person_hash"]]].append(report)
    in_force = rules.parameters_at(rules.load_table(), "CN-FS", AS_OF)
    threshold = {rule: in_force.values[rule].value for rule in rules.EXIT_RULES}
    decisions: dict[str, int] = defaultdict(int)
    for entry in truth["households"]:
        members = tuple(scope[person] for person in entry["members"])
        snapshot = rules.Snapshot("CN-FS", fold(by_household[entry["ref"]], scope), members=members)
        decision = rules.evaluate(snapshot, in_force)
        assert decision.outcome == entry["expected_decision"], entry["ref"]
        assert [r.rule for r in decision.results if r.triggered] == entry["exit_triggers"], entry["ref"]
        decisions[decision.outcome] += 1
        if "income_per_capita" in entry["exit_triggers"]:
            assert decision.result("income_per_capita").observed == Decimal(entry["income_per_capita"])
            assert Decimal(entry["income_per_capita"]) > threshold["income_per_capita"]
        if entry["kind"] == "concealed_income":
            assert "income_per_capita" in entry["exit_triggers"]
        if entry["kind"] in ("property_elsewhere", "housed_elsewhere"):
            assert entry["expected_decision"] == "qualifies" and entry["cross_region_matches"]
            assert entry["expected_decision_with_cross_region"] == "exit_triggered"
        if entry["data_issue"] == "at_threshold":
            assert decision.outcome == "qualifies"
            assert {str(r.observed) for r in decision.results} & {str(v) for v in threshold.values()}
    assert set(decisions) == {"qualifies", "exit_triggered", "needs_manual"}


def peer_hashes(out: Path, city: str) -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((out / "peers" / city / "data.yaml").read_text())
    return {subject["id_hashes"]["CN-FS"]: subject for subject in document["subjects"]}


def test_cross_region_matches_are_in_the_peers_data_and_only_they(
    out: Path, truth: dict[str, Any], raw_ids: dict[str, str]
) -> None:
    keys = {city: load_linkage_key(linkage_file(DEFAULT_LINKAGE_DIR, city)) for city in P.PEER_CITIES}
    peers = {city: peer_hashes(out, city) for city in P.PEER_CITIES}
    expected = set()
    for entry in truth["households"]:
        for match in entry["cross_region_matches"]:
            hashed = id_hash(keys[match["city"]], raw_ids[match["person_hash"]])
            assert peers[match["city"]][hashed][match["category"]] is True
            expected.add((match["city"], hashed))
    assert len(expected) == scaled(P.CROSS_REGION_MATCHES, SCALE)
    known = 0
    for number in raw_ids.values():
        for city in P.PEER_CITIES:
            subject = peers[city].get(id_hash(keys[city], number))
            if subject is not None and (city, id_hash(keys[city], number)) not in expected:
                known += 1
                assert not any(
                    subject[c]
                    for c in (
                        "holds_subsidised_housing",
                        "receives_housing_subsidy",
                        "owns_property_over_threshold",
                    )
                )
    assert known > 0  # Foshan members a peer knows with nothing there: a `no_match`


def test_raw_peer_ids_load_in_federation_as_it_reads_data_files_today(tmp_path: Path) -> None:
    assert (
        main(["--seed", "7", "--scale", "0.02", "--days", "3", "--peer-ids", "raw", "--out", str(tmp_path)])
        == 0
    )
    truth = json.loads((tmp_path / "truth.json").read_text())
    numbers = {}
    for household in records(tmp_path / "households.ndjson"):
        for member in household["members"]:
            numbers[identity.person_hash(member["id_number"], DEV_PERSON_HASH_KEY)] = member["id_number"]
    matches = [m for e in truth["households"] for m in e["cross_region_matches"]]
    assert matches
    ensure_demo(FEDERATION_DEMO)  # the directories beside those linkage keys, if not written yet
    for match in matches:
        city = match["city"]
        directory = load_directory(FEDERATION_DEMO / city / "peers.yaml", city)
        book = load_book(tmp_path / "peers" / city / "data.yaml", directory, kit_clock.now())
        (fs_key,) = directory.peers["CN-FS"].linkage_keys
        assert book.status("CN-FS", fs_key.hash(numbers[match["person_hash"]]))[match["category"]] is True


def test_expected_warnings_are_what_monitorings_detectors_raise(out: Path, truth: dict[str, Any]) -> None:
    """Replay credentials, door openings and readings into monitoring's own register, occupancy book and
    detectors (default parameters), and compare every unit's warnings with the ground truth."""
    register, book = Register(), OccupancyBook(FOSHAN)
    namespace = UUID(int=0)
    units = {}
    bodies = records(out / "households.ndjson")
    for entry in truth["households"]:
        if entry["group"] != "unit":
            continue
        unit = UnitRef(entry["estate"], entry["building"], entry["unit"])
        household_id = uuid5(namespace, entry["ref"])
        members = frozenset(uuid5(namespace, h) for h in entry["members"])
        start = date.fromisoformat(bodies[entry["line"] - 1]["tenancy_start"])
        register.households[household_id] = HouseholdView(household_id, unit, start, members)
        register.by_unit[unit] = household_id
        for member in members:
            register.member_household[member] = household_id
        units[unit] = entry
    for credential in records(out / "credentials.ndjson"):
        register.credentials[f"{credential['kind']}:{credential['credential_id']}"] = uuid5(
            namespace, credential["person_hash"]
        )
    for signal in records(out / "door_access.ndjson"):
        unit = UnitRef(signal["estate"], signal["building"], signal["unit"])
        key = f"{signal['credential_kind']}:{signal['credential_id']}"
        book.record_access(register, unit, register.by_unit[unit], key, datetime.fromisoformat(signal["at"]))
    for reading in records(out / "utility.ndjson"):
        unit = UnitRef(reading["estate"], reading["building"], reading["unit"])
        book.record_utilities(
            unit, reading["month"], Decimal(reading["water_m3"]), Decimal(reading["electricity_kwh"])
        )
    params = DetectorParams()
    assert book.first_day == (AS_OF - timedelta(days=35)).toordinal()
    raised: dict[str, int] = defaultdict(int)
    for unit, entry in units.items():
        as_of = book.estate_days[unit.estate]
        assert as_of == (AS_OF - timedelta(days=1)).toordinal()
        view = register.households[register.by_unit[unit]]
        occupancy = book.units.get(unit)
        found = [
            a.condition
            for a in (
                assess_vacancy(occupancy, view, as_of, book.first_day, None, params),
                assess_sublet(occupancy, as_of, None, params),
            )
            if a.triggered
        ]
        assert found == entry["expected_warnings"], entry["ref"]
        for condition in found:
            raised[condition] += 1
        if entry["kind"] in ("sublet", "lend"):
            assert found == ["sublet_or_lend"]
        if entry["kind"] == "vacant":
            assert found == ["vacancy"]
    assert raised["vacancy"] >= 1 and raised["sublet_or_lend"] >= 1


def test_the_command_refuses_a_scale_outside_zero_to_one(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--scale", "1.5", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        main(["--scale", "0.00001", "--out", str(tmp_path)])


async def test_eligibility_takes_the_files_and_decides_as_the_truth_says(
    out: Path, truth: dict[str, Any], tmp_path: Path
) -> None:
    """A sample of every kind, data problem and decision, loaded as a loader would: each registration
    body to the real `POST /households`, then the households' facts as NDJSON to `POST /facts` (same
    hash key), then each household's automated decision read back."""
    settings = EligibilitySettings(var_dir=tmp_path)
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "store.sqlite")}
    noon = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 4, 0, tzinfo=UTC)
    app = EligibilityApp(settings, env, clock=lambda: noon)
    try:
        api = build_eligibility(settings, app=app)[0]  # lifespan not run: no NATS
        transport = httpx.ASGITransport(app=api)
        clerk = OperatorAuth("clerk-intake-01", "admin", "eligibility")  # the loader's intake clerk
        client = httpx.AsyncClient(transport=transport, base_url="http://eligibility", auth=clerk)
        bodies = lines(out / "households.ndjson")
        picked: dict[tuple[str, str | None, str], list[dict[str, Any]]] = defaultdict(list)
        for entry in truth["households"]:
            key = (entry["kind"], entry["data_issue"], entry["expected_decision"])
            if entry["group"] == "unit" and len(picked[key]) < 2:
                picked[key].append(entry)
        sample = [e for entries in picked.values() for e in entries]
        assert {e["expected_decision"] for e in sample} == {"qualifies", "exit_triggered", "needs_manual"}
        ids = {}
        for entry in sample:
            answer = await client.post(
                "/households", content=bodies[entry["line"] - 1], headers={"content-type": "application/json"}
            )
            assert answer.status_code == 201, answer.text
            assert [m["person_hash"] for m in answer.json()["members"]] == entry["members"]
            ids[entry["ref"]] = UUID(answer.json()["household_id"])
        wanted = {h for e in sample for h in e["members"]}
        facts = [line for line in lines(out / "facts.ndjson") if json.loads(line)["person_hash"] in wanted]
        answer = await client.post(
            "/facts", content="\n".join(facts), headers={"content-type": "application/x-ndjson"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["recorded"] == len(facts)
        for entry in sample:
            assert app.household(ids[entry["ref"]]).outcome == entry["expected_decision"], entry["ref"]
        await client.aclose()
    finally:
        app.close()
