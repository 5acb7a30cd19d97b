"""Writes the population's files: registration bodies, department facts, credentials, door openings,
utility readings, the peers' data sets, the ground truth and the summary (layout in docs/population.md).

Every line is written in a fixed order from the seeded model, with no clock and no set iteration, so the
same options give byte-identical files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from infra.population import params as P
from infra.population import peers as peer_data
from infra.population import signals
from infra.population.model import (
    ASSETS,
    CONFLICTING_INCOME,
    HOME,
    HOUSING,
    INCOME,
    KINDS,
    Household,
    Population,
    build,
    money,
    stream,
)
from services.eligibility.settings import DEV_PERSON_HASH_KEY
from services.monitoring.detectors import DetectorParams

_SECTORS = ("Logistics", "Ceramics", "Furniture", "Appliances", "Textiles", "Catering", "Property Services")


@dataclass(frozen=True)
class Options:
    seed: int = 2026
    scale: Decimal = Decimal("1.0")
    days: int = 35
    as_of: date = date(2026, 11, 26)
    peer_ids: str = "hashed"
    person_hash_key: str = DEV_PERSON_HASH_KEY
    linkage_dir: Path = peer_data.DEFAULT_LINKAGE_DIR


def _line(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n"


def registration(household: Household) -> dict[str, Any]:
    """The body of eligibility's `POST /households` (housed) or the rent-subsidy record (no unit)."""
    members = [
        {"id_number": m.id_number, "birth_date": m.birth.isoformat(), "disabled": m.disabled}
        for m in household.members
    ]
    if household.unit is None:
        return {
            "region": HOME,
            "monthly_subsidy": money(household.subsidy),
            "subsidy_start": household.start.isoformat(),
            "members": members,
        }
    unit = household.unit
    return {
        "region": HOME,
        "estate": unit.estate,
        "building": unit.building,
        "unit": unit.unit,
        "base_rent": money(unit.rent),
        "tenancy_start": household.start.isoformat(),
        "members": members,
    }


class References:
    """Each department's own record numbers, distinct per department."""

    def __init__(self) -> None:
        self._next: Counter[str] = Counter()

    def __call__(self, prefix: str, on: date) -> str:
        self._next[prefix] += 1
        return f"{prefix}-{on.strftime('%Y%m')}-{self._next[prefix]:08d}"


def _fact(
    department: str, reference: str, on: date, person_hash: str, fact: dict[str, Any]
) -> tuple[str, str]:
    return fact["kind"], _line(
        {
            "department": department,
            "reference": reference,
            "described_on": on.isoformat(),
            "household_id": None,
            "person_hash": person_hash,
            "fact": fact,
        }
    )


def facts_of(
    household: Household, refs: References, as_of: date, employers: list[str]
) -> Iterator[tuple[str, str]]:
    """The department facts about one household, as `housing.department.fact-reported` payloads. Every
    fact names a person by hash (the household's id is eligibility's, unknown to the departments)."""
    head = household.members[0]
    fresh = as_of.replace(day=1)
    described = household.income_described or fresh
    # Civil affairs reports each member's own monthly income (eligibility divides over the members):
    # the head earns the household's whole income, the others nothing, so the per-capita figure the
    # rule computes is the household's exactly.
    members = len(household.members)
    for index, person in enumerate(household.members):
        earned = household.income * members if index == 0 else 0  # cents
        income = {"kind": "income", "monthly_income": money(earned)}
        yield _fact("civil_affairs", refs("CA", described), described, person.person_hash, income)
    if household.issue == CONFLICTING_INCOME and household.second_income is not None:
        second = {"kind": "income", "monthly_income": money(household.second_income * members)}
        yield _fact("human_resources", refs("HR", described), described, head.person_hash, second)
    adults = [m for m in household.members if m.age >= 18]
    for person, amount in zip(adults, household.assets, strict=False):
        assets = {"kind": "financial_assets", "amount": money(amount)}
        yield _fact("finance", refs("FIN", fresh), fresh, person.person_hash, assets)
    for ref, area, registered in household.properties:
        dwelling = {"kind": "property", "area_m2": money(area), "city": HOME, "property_ref": ref}
        yield _fact("real_estate", refs("RE", registered), registered, head.person_hash, dwelling)
    residence = {
        "kind": "registration",
        "hukou_city": household.hukou_city,
        "actual_residence_city": household.residence_city,
    }
    yield _fact("public_security", refs("PS", fresh), fresh, head.person_hash, residence)
    last_year_end = date(as_of.year - 1, 12, 31)
    for index, person in enumerate(household.members):
        if person.wage:
            employer = employers[(int(person.person_hash[:8], 16) + index) % len(employers)]
            insured = {
                "kind": "social_insurance",
                "employer": employer,
                "contribution_base": money(person.wage),
            }
            yield _fact("social_insurance", refs("SI", fresh), fresh, person.person_hash, insured)
            taxable = person.wage * 12 - 6_000_000
            if taxable > 0:
                tax = {"kind": "tax", "annual_taxable_income": money(taxable)}
                yield _fact("tax", refs("TAX", last_year_end), last_year_end, person.person_hash, tax)


def truth_of(household: Household, line: int, warnings: list[str] | None) -> dict[str, Any]:
    unit = household.unit
    return {
        "ref": household.ref,
        "group": "unit" if unit else "rent_subsidy",
        "line": line,
        "estate": unit.estate if unit else None,
        "building": unit.building if unit else None,
        "unit": unit.unit if unit else None,
        "members": [m.person_hash for m in household.members],
        "violating": household.violating,
        "kind": household.kind,
        "exit_triggers": household.triggers,
        "data_issue": household.issue,
        "income_per_capita": money(household.income),
        "financial_assets": money(sum(household.assets)) if household.assets else None,
        "housing_area_foshan": money(sum(a for _, a, _ in household.properties)),
        "expected_decision": household.expected_decision(),
        "expected_decision_with_cross_region": household.expected_decision(cross_region=True),
        "cross_region_matches": [
            {
                "city": city,
                "category": category,
                "member_index": index,
                "person_hash": household.members[index].person_hash,
            }
            for city, category, index in household.matches
        ],
        "actual_residence_city": household.residence_city,
        "occupancy": household.occupancy if unit else None,
        "expected_warnings": warnings,
    }


def _shares(counter: Counter[str], whole: int) -> dict[str, str]:
    return {k: f"{Decimal(v) / Decimal(whole):.4f}" if whole else "0" for k, v in sorted(counter.items())}


def generate(options: Options, out: Path) -> dict[str, Any]:
    """Build the population and write every file under `out`; returns the summary."""
    population = build(options.seed, options.scale, options.as_of, options.person_hash_key)
    out.mkdir(parents=True, exist_ok=True)
    (out / "subsidy").mkdir(exist_ok=True)
    housed, subsidised = population.housed, population.subsidised
    refs = References()
    employers = [
        f"{district} {sector} Co., Ltd. {n + 1:02d}"
        for district, _ in P.DISTRICTS
        for sector in _SECTORS
        for n in range(6)
    ]
    fact_kinds: Counter[str] = Counter()

    def write_group(group: list[Household], households_path: Path, facts_path: Path) -> int:
        lines = 0
        with households_path.open("w", encoding="utf-8") as hf, facts_path.open("w", encoding="utf-8") as ff:
            for household in group:
                hf.write(_line(registration(household)))
                for kind, text in facts_of(household, refs, options.as_of, employers):
                    ff.write(text)
                    fact_kinds[kind] += 1
                    lines += 1
        return lines

    facts_lines = write_group(housed, out / "households.ndjson", out / "facts.ndjson")
    subsidy_facts_lines = write_group(
        subsidised, out / "subsidy" / "households.ndjson", out / "subsidy" / "facts.ndjson"
    )

    # Occupancy signals of the units: the `days` complete days before `as_of`.
    first = options.as_of - timedelta(days=options.days)
    params = DetectorParams()
    plans = signals.plan_units(stream(options.seed, "credentials"), housed, options.days)
    with (out / "credentials.ndjson").open("w", encoding="utf-8") as f:
        credentials = 0
        for text in signals.credentials_lines(plans):
            f.write(text)
            credentials += 1
    with (out / "door_access.ndjson").open("w", encoding="utf-8") as f:
        door_lines = signals.write_door_access(
            stream(options.seed, "door"), plans, first, options.days, min(params.window_days, options.days), f
        )
    months = signals.months_of(first, options.as_of)
    with (out / "utility.ndjson").open("w", encoding="utf-8") as f:
        utility_lines = signals.write_utility(stream(options.seed, "utility"), plans, months, f)
    warnings = {
        plan.household.ref: signals.expected_warnings(plan, first, options.days, params) for plan in plans
    }

    # Peer cities.
    peer_sets = peer_data.build_peers(
        stream(options.seed, "peers"),
        population,
        options.linkage_dir,
        raw_ids=options.peer_ids == "raw",
    )
    for peer in peer_sets:
        peer_data.write_peer(out / "peers", peer, options.as_of)

    # Ground truth, one household per line inside one JSON document.
    t = population.thresholds
    meta = {
        "seed": options.seed,
        "scale": str(options.scale),
        "as_of": options.as_of.isoformat(),
        "days": options.days,
        "signals_from": first.isoformat(),
        "signals_to": (options.as_of - timedelta(days=1)).isoformat(),
        "thresholds_in_force": {INCOME: money(t.income), HOUSING: money(t.area), ASSETS: money(t.assets)},
        "person_hash_key": "dev default" if options.person_hash_key == DEV_PERSON_HASH_KEY else "custom",
        "peer_ids": options.peer_ids,
    }
    with (out / "truth.json").open("w", encoding="utf-8") as f:
        f.write('{"meta":' + json.dumps(meta, separators=(",", ":")) + ',"households":[\n')
        lines = {h.ref: i + 1 for i, h in enumerate(housed)} | {
            h.ref: i + 1 for i, h in enumerate(subsidised)
        }
        for i, household in enumerate(population.households):
            entry = truth_of(household, lines[household.ref], warnings.get(household.ref))
            f.write(("," if i else "") + json.dumps(entry, separators=(",", ":")) + "\n")
        f.write("]}\n")

    summary = _summary(
        population,
        meta,
        fact_kinds,
        facts_lines,
        subsidy_facts_lines,
        credentials,
        door_lines,
        utility_lines,
        warnings,
        peer_sets,
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _summary(
    population: Population,
    meta: dict[str, Any],
    fact_kinds: Counter[str],
    facts_lines: int,
    subsidy_facts_lines: int,
    credentials: int,
    door_lines: int,
    utility_lines: int,
    warnings: dict[str, list[str]],
    peer_sets: list[peer_data.PeerSet],
) -> dict[str, Any]:
    households = population.households
    housed = population.housed
    violating = [h for h in housed if h.violating]
    kinds = Counter(h.kind for h in violating)
    triggered = [h for h in households if h.triggers]
    return {
        "meta": meta,
        "totals": {
            "estates": len(population.estates),
            "units": len(housed),
            "households": len(households),
            "households_in_units": len(housed),
            "households_on_rent_subsidy": len(population.subsidised),
            "people": sum(len(h.members) for h in households),
            "people_in_units": sum(len(h.members) for h in housed),
            "disabled_people": sum(m.disabled for h in households for m in h.members),
            "people_65_and_over": sum(m.age >= 65 for h in households for m in h.members),
        },
        "violations": {
            "base": "households in units",
            "violating": len(violating),
            "violating_share": f"{Decimal(len(violating)) / Decimal(len(housed)):.4f}",
            "by_kind": {k: kinds[k] for k in KINDS if k != "none"},
            "share_of_violating": _shares(kinds, len(violating)),
            "sublet_or_lend_share_of_violating": _shares(
                Counter({"sublet_or_lend": kinds["sublet"] + kinds["lend"]}), len(violating)
            )["sublet_or_lend"],
        },
        "exit_triggers": {
            "base": "all households",
            "households_triggered": len(triggered),
            "share": f"{Decimal(len(triggered)) / Decimal(len(households)):.4f}",
            "by_rule": dict(sorted(Counter(r for h in triggered for r in h.triggers).items())),
            "with_two_rules": sum(len(h.triggers) > 1 for h in triggered),
        },
        "data_issues": dict(sorted(Counter(h.issue for h in households if h.issue).items())),
        "expected_decisions": {
            "households_in_units": dict(sorted(Counter(h.expected_decision() for h in housed).items())),
            "all_households": dict(sorted(Counter(h.expected_decision() for h in households).items())),
            "all_households_with_cross_region": dict(
                sorted(Counter(h.expected_decision(cross_region=True) for h in households).items())
            ),
        },
        "cross_region": {
            "households_matched": sum(bool(h.matches) for h in households),
            "by_city": {p.city: p.matches for p in peer_sets},
            "peer_subjects": {p.city: len(p.subjects) for p in peer_sets},
            "peer_known_no_match": {p.city: p.known_no_match for p in peer_sets},
            "peer_residents_unknown_to_foshan": {p.city: p.residents for p in peer_sets},
        },
        "occupancy": dict(sorted(Counter(h.occupancy for h in housed).items())),
        "expected_warnings": dict(sorted(Counter(w for ws in warnings.values() for w in ws).items())),
        "files": {
            "households.ndjson": len(housed),
            "facts.ndjson": facts_lines,
            "facts_by_kind_all_groups": dict(sorted(fact_kinds.items())),
            "subsidy/households.ndjson": len(population.subsidised),
            "subsidy/facts.ndjson": subsidy_facts_lines,
            "credentials.ndjson": credentials,
            "door_access.ndjson": door_lines,
            "utility.ndjson": utility_lines,
        },
    }
