"""The demo federation: Foshan and its four neighbours, each with its own DEMO-ONLY keys and data.

`python -m federation demo-init` (re)writes `infra/federation/`; the tests call `write_demo` into a
temporary directory with free ports. Everything written here is for the local stack and tests only:
private keys and linkage keys are labelled DEMO-ONLY and ID numbers are fictitious.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml

from federation.keys import keygen

DEMO_CITIES = {
    "CN-FS": "Foshan",
    "CN-GZ": "Guangzhou",
    "CN-DG": "Dongguan",
    "CN-ZS": "Zhongshan",
    "CN-ZQ": "Zhaoqing",
}
PURPOSES = ["exit-review", "eligibility-review"]
SIGNING_KEY = "signing-key.DEMO-ONLY.pem"

# Fictitious people, by the city whose registers know them and what they say there.
DEMO_PEOPLE: dict[str, list[dict[str, Any]]] = {
    "CN-FS": [
        {"id_number": "DEMO-4406-0001", "holds_subsidised_housing": True, "receives_housing_subsidy": False},
        {"id_number": "DEMO-4406-0002", "holds_subsidised_housing": True, "receives_housing_subsidy": True},
    ],
    "CN-GZ": [
        {"id_number": "DEMO-4406-0003", "holds_subsidised_housing": True, "receives_housing_subsidy": False},
        {"id_number": "DEMO-4406-0004", "holds_subsidised_housing": False, "receives_housing_subsidy": True},
    ],
    "CN-DG": [{"id_number": "DEMO-4406-0005", "owns_property_over_threshold": True}],
    "CN-ZS": [{"id_number": "DEMO-4406-0006", "holds_subsidised_housing": None}],
    "CN-ZQ": [],
}


def linkage_name(a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"{first}_{second}.DEMO-ONLY.key"


def write_demo(
    out: Path, ports: dict[str, int], *, rate: tuple[float, int] = (200.0, 400), host: str = "127.0.0.1"
) -> dict[str, str]:
    """Write keys, per-city peer directories and data sets; return each city's public key `x`."""
    now = datetime.now(UTC).replace(microsecond=0)
    not_before, not_after = now - timedelta(days=1), now + timedelta(days=365)
    cities = [code for code in DEMO_CITIES if code in ports]
    (out / "linkage").mkdir(parents=True, exist_ok=True)
    for a, b in combinations(cities, 2):
        (out / "linkage" / linkage_name(a, b)).write_text(secrets.token_hex(32) + "\n")
    xs: dict[str, str] = {}
    for code in cities:
        city_dir = out / code
        city_dir.mkdir(parents=True, exist_ok=True)
        private, x = keygen(city_dir, f"{code}-demo-1")
        private.replace(city_dir / SIGNING_KEY)
        xs[code] = x
    for code in cities:
        entries: dict[str, Any] = {}
        for other in cities:
            entry: dict[str, Any] = {
                "name": DEMO_CITIES[other],
                "base_url": f"http://{host}:{ports[other]}",
                "keys": [
                    {
                        "key_id": f"{other}-demo-1",
                        "x": xs[other],
                        "not_before": not_before.isoformat(),
                        "not_after": not_after.isoformat(),
                    }
                ],
            }
            if other != code:
                entry["allowed_purposes"] = list(PURPOSES)
                entry["rate_limit"] = {"per_second": rate[0], "burst": rate[1]}
                entry["linkage_key_file"] = f"../linkage/{linkage_name(code, other)}"
            entries[other] = entry
        header = f"# Peer directory of {DEMO_CITIES[code]} ({code}) for the local DEMO stack only.\n"
        (out / code / "peers.yaml").write_text(header + yaml.safe_dump({"cities": entries}, sort_keys=False))
        data = {"subjects": [{"id_number": p["id_number"], **_categories(p)} for p in DEMO_PEOPLE[code]]}
        (out / code / "data.yaml").write_text(
            f"# DEMO data of {code}: fictitious ID numbers.\n" + yaml.safe_dump(data, sort_keys=False)
        )
    return xs


def _categories(person: dict[str, Any]) -> dict[str, bool | None]:
    return {
        name: person.get(name, False)
        for name in ("holds_subsidised_housing", "receives_housing_subsidy", "owns_property_over_threshold")
    }
