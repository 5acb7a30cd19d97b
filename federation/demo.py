"""The demo federation: Foshan and its four neighbours, each with its own DEMO-ONLY keys and data.

Nothing of it is committed: the keys' validity windows are dated from the day they are written (by
the clock, `services.kit.clock`), so a committed set would stop verifying on a calendar date. `make
run` and `make demo` (`infra.stack.start_stack`) call `ensure_demo` on `<var_dir>/federation/` at every
start: it writes the set when it is missing, and renews it when a key window has not begun or ends in
less than `RENEW_BEFORE` (the linkage keys, which have no window, are kept: hashes made with them stay
valid). `python -m federation demo-init [--out DIR] [--if-stale]` does the same by hand; the tests call
`write_demo` into a temporary directory with free ports. Everything written here is for the local stack
and tests only: private keys and linkage keys are labelled DEMO-ONLY (mode 0600), ID numbers are
fictitious. Real deployments configure their own keys and windows (`FEDERATION_*`, federation/README.md).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml

from contracts.federation import CITY_NAMES
from federation.keys import keygen, load_private_key, public_x, write_file
from federation.peers import Directory, load_directory
from services.kit.clock import Clock
from services.kit.clock import now as process_now

DEMO_CITIES = dict(CITY_NAMES)
DEMO_PORTS = {code: 8006 + 100 * i for i, code in enumerate(DEMO_CITIES)}
"""Where each demo city answers in the local stack (infra/local/Procfile, infra/city/procfile.py)."""
PURPOSES = ["exit-review", "eligibility-review"]
SIGNING_KEY = "signing-key.DEMO-ONLY.pem"
KEY_LIFETIME = timedelta(days=365)
"""A demo key's window: from a day before it is written to a year after."""
RENEW_BEFORE = timedelta(days=30)
"""`ensure_demo` renews the set when any key window ends sooner than this (or has not begun)."""

# Fictitious people, by the city whose register knows them and what it says there. Foshan has none:
# it answers from its own registers (eligibility's events). The 4406... numbers are people a Foshan
# household may name (federation/README.md, "Demo federation": register one to see a match); the
# others are the peer's own residents. No real ID number.
DEMO_PEOPLE: dict[str, list[dict[str, Any]]] = {
    "CN-FS": [],
    "CN-GZ": [
        {"id_number": "440604198001010012", "holds_subsidised_housing": True},
        {"id_number": "440106198202020023", "holds_subsidised_housing": True},
        {"id_number": "440106198303030034", "receives_housing_subsidy": True},
    ],
    "CN-DG": [
        {"id_number": "440604198807150016", "owns_property_over_threshold": True},
        {"id_number": "441900198503030035", "owns_property_over_threshold": True},
    ],
    "CN-ZS": [
        {"id_number": "440604199004040045", "holds_subsidised_housing": None},
        {"id_number": "442000199104040046", "receives_housing_subsidy": True},
    ],
    "CN-ZQ": [
        {"id_number": "440604197505050056", "receives_housing_subsidy": True},
        {"id_number": "441202197505050057", "holds_subsidised_housing": True},
    ],
}


def linkage_name(a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"{first}_{second}.DEMO-ONLY.key"


def ensure_linkage(directory: Path, cities: list[str] | None = None) -> None:
    """Write the DEMO linkage key of every pair of `cities` (default: all five) that has none; an
    existing key is never rewritten (subject hashes made with it must keep matching)."""
    codes = list(DEMO_CITIES) if cities is None else cities
    for a, b in combinations(codes, 2):
        path = directory / linkage_name(a, b)
        if not path.is_file():
            write_file(path, (secrets.token_hex(32) + "\n").encode(), secret=True)


def write_demo(
    out: Path,
    ports: dict[str, int],
    *,
    rate: tuple[float, int] = (200.0, 400),
    host: str = "127.0.0.1",
    clock: Clock | None = None,
    keep_linkage: bool = False,
    people: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, str]:
    """Write keys, per-city peer directories and data sets (`people`, default `DEMO_PEOPLE`); return
    each city's public key `x`.

    Key windows run from a day before `clock`'s now (default: the process's clock) to
    `KEY_LIFETIME` after it. Linkage keys are all new, unless `keep_linkage` keeps those present."""
    now = (clock or process_now)().replace(microsecond=0)
    not_before, not_after = now - timedelta(days=1), now + KEY_LIFETIME
    cities = [code for code in DEMO_CITIES if code in ports]
    if not keep_linkage:
        for a, b in combinations(cities, 2):
            (out / "linkage" / linkage_name(a, b)).unlink(missing_ok=True)
    ensure_linkage(out / "linkage", cities)
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
        header = (
            f"# Peer directory of {DEMO_CITIES[code]} ({code}) for the local DEMO stack only\n"
            f"# (federation/demo.py): keys valid from {not_before:%Y-%m-%d} to {not_after:%Y-%m-%d}.\n"
        )
        data = {"subjects": _register((DEMO_PEOPLE if people is None else people).get(code, []))}
        data_text = f"# DEMO data of {code}: fictitious ID numbers.\n" + yaml.safe_dump(data, sort_keys=False)
        write_file(out / code / "data.yaml", data_text.encode())
        peers_text = header + yaml.safe_dump({"cities": entries}, sort_keys=False)
        write_file(out / code / "peers.yaml", peers_text.encode())
    return xs


def demo_problem(
    out: Path,
    cities: list[str] | None = None,
    *,
    clock: Clock | None = None,
    renew_before: timedelta = RENEW_BEFORE,
) -> str | None:
    """Why the demo set under `out` cannot be used as it is (None when it can): a file missing or
    unreadable, a signing key its city's entry does not list, two directories disagreeing on a key,
    or a key window that has not begun or ends within `renew_before` of `clock`'s now."""
    now = (clock or process_now)()
    codes = list(DEMO_CITIES) if cities is None else cities
    directories: dict[str, Directory] = {}
    for code in codes:
        if not (out / code / SIGNING_KEY).is_file():
            return f"no demo key of {code} under {out}"
        try:
            own = public_x(load_private_key(out / code / SIGNING_KEY).public_key())
            directory = load_directory(out / code / "peers.yaml", code)
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            return f"{code}: {type(exc).__name__}: {exc}"
        if not (out / code / "data.yaml").is_file():
            return f"{code}: no data.yaml"
        if _register_of(out / code / "data.yaml") != _register(DEMO_PEOPLE.get(code, [])):
            return f"{code}: its data.yaml is not this version's DEMO register"
        me = directory.me
        if me is None or own not in {key.x for key in me.keys}:
            return f"{code}: its signing key is not in its own directory entry"
        for city in directory.cities.values():
            for key in city.keys:
                if now < key.not_before:
                    return f"{code}: key {key.key_id} is valid only from {key.not_before.isoformat()}"
                if key.not_after - now < renew_before:
                    return f"{code}: key {key.key_id} expires {key.not_after.isoformat()}"
        directories[code] = directory
    published = {code: {k.x for k in directories[code].cities[code].keys} for code in codes}
    for code, directory in directories.items():
        for other in codes:
            listed = directory.cities.get(other)
            if listed is None or {k.x for k in listed.keys} != published[other]:
                return f"{code}: its entry for {other} is not {other}'s own"
    return None


def ensure_demo(
    out: Path,
    ports: dict[str, int] | None = None,
    *,
    clock: Clock | None = None,
    renew_before: timedelta = RENEW_BEFORE,
) -> str | None:
    """Write the demo set under `out` when it is missing or stale (`demo_problem`), keeping the linkage
    keys present; return why it was (re)written, or None when it was fine as it is.

    Processes starting together (the stack, compose's containers on one volume) take turns under a
    lock beside `out`: two writers at once would each leave half a set of their own."""
    import fcntl

    ports = DEMO_PORTS if ports is None else ports
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            problem = demo_problem(
                out, [c for c in DEMO_CITIES if c in ports], clock=clock, renew_before=renew_before
            )
            if problem is not None:
                write_demo(out, ports, clock=clock, keep_linkage=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return problem


def _register(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id_number": p["id_number"], **_categories(p)} for p in people]


def _register_of(path: Path) -> list[dict[str, Any]] | None:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    subjects = document.get("subjects") if isinstance(document, dict) else None
    return subjects if isinstance(subjects, list) else None


def _categories(person: dict[str, Any]) -> dict[str, bool | None]:
    return {
        name: person.get(name, False)
        for name in ("holds_subsidised_housing", "receives_housing_subsidy", "owns_property_over_threshold")
    }
