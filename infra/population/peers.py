"""The four neighbours' data sets in federation's data-file format (`FEDERATION_DATA_FILE`, see
federation/readmodel.py): `subjects:` with the three categories per person.

Each file holds (1) the known cross-region matches of Foshan households in that city (one category
true), (2) Foshan members the city knows with nothing true there (a `no_match`), and (3) the city's own
residents Foshan has never heard of. People are written as `id_hashes: {CN-FS: <hash>}`, the hash
Foshan sends for them (HMAC-SHA256 of the normalised ID number under the Foshan-peer linkage key, as
services/kit/linkage.py computes it), so no ID number is in the file. `--peer-ids raw` writes
`id_number:` instead, the only form federation's loader reads today.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from contracts.federation import CATEGORIES
from federation.demo import ensure_linkage
from infra.population import params as P
from infra.population.model import HOME, Population, scaled
from services.kit.linkage import id_hash, load_linkage_key

REGION_OF_PEER = {"CN-GZ": "440106", "CN-DG": "441900", "CN-ZS": "442000", "CN-ZQ": "441202"}
DEFAULT_LINKAGE_DIR = Path(__file__).resolve().parents[2] / "var" / "federation" / "linkage"
"""The linkage keys of `make run`'s demo federation (var/federation, `federation.demo`): written here
when missing, so that a population made before the first `make run` matches that run's peers."""


def linkage_file(directory: Path, city: str, home: str = HOME) -> Path:
    return directory / f"{'_'.join(sorted((home, city)))}.DEMO-ONLY.key"


def linkage_key(directory: Path, city: str) -> bytes:
    if directory == DEFAULT_LINKAGE_DIR:
        ensure_linkage(directory)
    return load_linkage_key(linkage_file(directory, city))


@dataclass(frozen=True)
class PeerSet:
    city: str
    subjects: list[dict[str, Any]]
    matches: int
    known_no_match: int
    residents: int


def build_peers(
    rng: random.Random, population: Population, linkage_dir: Path, raw_ids: bool
) -> list[PeerSet]:
    matched = {
        (h.ref, index) for h in population.households for _, _, index in h.matches
    }  # membership only, never iterated
    everyone = [(h, i) for h in population.households for i in range(len(h.members))]
    sets = []
    for city in P.PEER_CITIES:
        key = None if raw_ids else linkage_key(linkage_dir, city)

        def subject(
            id_number: str, categories: dict[str, bool | None], key: bytes | None = key
        ) -> dict[str, Any]:
            who: dict[str, Any] = (
                {"id_number": id_number} if key is None else {"id_hashes": {HOME: id_hash(key, id_number)}}
            )
            return {**who, **categories}

        entries = []
        n_matches = 0
        for household in population.households:
            for match_city, category, index in household.matches:
                if match_city == city:
                    flags: dict[str, bool | None] = dict.fromkeys(CATEGORIES, False)
                    flags[category] = True
                    entries.append(subject(household.members[index].id_number, flags))
                    n_matches += 1
        n_known = scaled(P.PEER_KNOWN_NO_MATCH, population.scale)
        known = [(h, i) for h, i in rng.sample(everyone, n_known + len(matched)) if (h.ref, i) not in matched]
        for household, index in known[:n_known]:
            entries.append(subject(household.members[index].id_number, dict.fromkeys(CATEGORIES, False)))
        n_residents = max(5, scaled(P.PEER_RESIDENTS, population.scale))
        for _ in range(n_residents):
            birth = population.as_of - timedelta(days=365 * 20 + rng.randrange(365 * 60))
            number = population.ids.issue(REGION_OF_PEER[city], birth, rng.random() < 0.5)
            flags = {
                "holds_subsidised_housing": rng.random() < 0.3,
                "receives_housing_subsidy": rng.random() < 0.2,
                "owns_property_over_threshold": None if rng.random() < 0.1 else rng.random() < 0.25,
            }
            entries.append(subject(number, flags))
        rng.shuffle(entries)
        sets.append(PeerSet(city, entries, n_matches, len(known[:n_known]), n_residents))
    return sets


def write_peer(directory: Path, peer: PeerSet, as_of: date) -> None:
    path = directory / peer.city / "data.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Synthetic data set of {P.PEER_NAMES[peer.city]} ({peer.city}) as of {as_of.isoformat()},\n"
        "# written by `python -m infra.population`: fictitious people; see docs/population.md.\n"
    )
    body = yaml.safe_dump({"subjects": peer.subjects}, sort_keys=True, default_flow_style=False, width=200)
    path.write_text(header + body, encoding="utf-8")
