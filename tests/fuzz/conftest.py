"""Schemathesis against each service's own OpenAPI document, in process (ASGI), on a fresh SQLite store
and a nats-server of the test's own (the runtime's lifespan connects to NATS and runs its loops).

Bounded and reproducible: `FUZZ_EXAMPLES` examples per operation in the fuzzing phase (default 6;
`make soak` raises it), derandomized generation with a fixed seed (`FUZZ_SEED`) and no example
database, so CI replays the same requests; the coverage phase (`FUZZ_COVERAGE=0` to leave it out)
adds the boundary and type mutations of every parameter. Every built-in check runs, plus two of ours
(`problem_json`, `valid_input_passes_validation`).
"""

from __future__ import annotations

import asyncio
import json
import os
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.generation.meta import negated_parameters
from schemathesis.python import asgi

from services.kit.bus import connect, ensure_streams
from tests.support.identity import as_operator
from tests.support.nats import NatsServer, free_port

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
SEED = int(os.environ.get("FUZZ_SEED", "20261127"))
COVERAGE = os.environ.get("FUZZ_COVERAGE", "1") == "1"


def operator(service: str) -> Mapping[str, str]:
    """The assertion the gateway mints for a city-wide supervisor (a role every service lets act),
    for `service` (minted as each case is sent)."""
    return as_operator("fuzz.supervisor", "supervisor", service)


def pytest_report_header() -> str:
    return f"fuzz: FUZZ_EXAMPLES={FUZZ_EXAMPLES} FUZZ_SEED={SEED} FUZZ_COVERAGE={int(COVERAGE)}"


def fuzz_config() -> schemathesis.Config:
    """Positive and negative data; the examples, coverage and fuzzing phases; every built-in check.
    `FUZZ_COVERAGE=0` leaves the coverage phase (boundary and type mutations of every parameter) out.

    A 422 is an acceptable answer to schema-valid data when a domain rule refuses it (a period whose
    end is before its start, a sanction without a basis penalties has seen): the schema cannot say
    those. A 422 from request validation itself on valid data is still a failure
    (`valid_input_passes_validation`). A 400 is acceptable too: a cursor the service did not make."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": FUZZ_EXAMPLES,
                "deterministic": True,
                "database": "none",
                "mode": "all",
            },
            "phases": {"coverage": {"enabled": COVERAGE}},
            "checks": {
                # The defaults (less 5xx), plus 422 (see above) and 413: a body over the size limit is
                # refused before it is read, and OpenAPI has no word for a body's size in bytes. And 400:
                # a list's `cursor` is opaque, so its schema (base64url) cannot tell one we made from
                # one we did not (`services.kit.paging`: 400 "Invalid cursor").
                "positive_data_acceptance": {
                    "expected-statuses": [
                        "2xx",
                        "3xx",
                        "400",
                        "401",
                        "403",
                        "404",
                        "409",
                        "413",
                        "422",
                        "429",
                    ]
                },
                # The defaults, plus 413: a body over the size limit is refused before it is read.
                "negative_data_rejection": {
                    "expected-statuses": [
                        "400",
                        "401",
                        "403",
                        "404",
                        "405",
                        "406",
                        "409",
                        "413",
                        "415",
                        "422",
                        "428",
                        "429",
                    ]
                },
            },
        }
    )


def sqlite_env(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(directory / "store.sqlite")}


# -- the apps, each on a fresh SQLite store under its own directory ---------------------------------


def eligibility(directory: Path, nats_url: str) -> FastAPI:
    from services.eligibility.service import build
    from services.eligibility.settings import EligibilitySettings

    return build(EligibilitySettings(nats_url=nats_url, var_dir=directory), sqlite_env(directory))[0]


def penalties(directory: Path, nats_url: str) -> FastAPI:
    from services.penalties.service import build
    from services.penalties.settings import PenaltiesSettings

    return build(PenaltiesSettings(nats_url=nats_url, var_dir=directory), sqlite_env(directory))[0]


def resettlement(directory: Path, nats_url: str) -> FastAPI:
    from services.resettlement.service import build
    from services.resettlement.settings import ResettlementSettings

    return build(ResettlementSettings(nats_url=nats_url, var_dir=directory), sqlite_env(directory))[0]


def training(directory: Path, nats_url: str) -> FastAPI:
    from services.training.service import build
    from services.training.settings import TrainingSettings

    return build(TrainingSettings(nats_url=nats_url, var_dir=directory), sqlite_env(directory))[0]


def monitoring(directory: Path, nats_url: str) -> FastAPI:
    from services.monitoring.service import build
    from services.monitoring.settings import MonitoringSettings

    return build(MonitoringSettings(nats_url=nats_url, var_dir=directory), sqlite_env(directory))[0]


FEDERATION_CITY = "CN-FS"


def federation(directory: Path, nats_url: str) -> FastAPI:
    """Foshan's federation process on the demo directory (Guangzhou and Dongguan as peers)."""
    from federation.demo import SIGNING_KEY, write_demo
    from federation.service import build
    from federation.settings import FederationSettings

    root = directory / "demo"
    write_demo(root, {code: free_port() for code in ("CN-FS", "CN-GZ", "CN-DG")})
    settings = FederationSettings(
        nats_url=nats_url,
        var_dir=directory,
        federation_city=FEDERATION_CITY,
        federation_private_key_file=root / FEDERATION_CITY / SIGNING_KEY,
        federation_peers_file=root / FEDERATION_CITY / "peers.yaml",
        federation_data_file=root / FEDERATION_CITY / "data.yaml",
        federation_audit_file=directory / "audit.jsonl",
    )
    return build(settings, sqlite_env(directory))[0]


SERVICES: dict[str, Callable[[Path, str], FastAPI]] = {
    "eligibility": eligibility,
    "penalties": penalties,
    "resettlement": resettlement,
    "training": training,
    "monitoring": monitoring,
    "federation": federation,
}


@pytest.fixture
def bus(nats_server: NatsServer) -> str:
    """The test's nats-server with the catalogue's streams, as a deployment has them."""

    async def create() -> None:
        nc = await connect(nats_server.url, "fuzz-setup", identity="admin")
        try:
            await ensure_streams(nc.jetstream())
        finally:
            await nc.drain()

    asyncio.run(create())
    return nats_server.url


@contextmanager
def served(api: FastAPI) -> Iterator[schemathesis.BaseSchema]:
    """The app's OpenAPI document loaded through the app itself (which starts its lifespan: the
    runtime connects to NATS and runs its loops), and the lifespan stopped afterwards."""
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", api, config=fuzz_config())
    finally:
        asgi.shutdown_lifespans()


# -- our checks ------------------------------------------------------------------------------------


def problem_json(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any) -> None:
    """Every error answer is RFC 9457 problem+json whose `status` is the response's."""
    if response.status_code < 400:
        return
    media = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert media == "application/problem+json", (
        f"{response.status_code} answered as {media!r}, not problem+json"
    )
    body = json.loads(response.content)
    assert isinstance(body, dict), "a problem is a JSON object"
    assert isinstance(body.get("title"), str) and body["title"], "a problem has a title"
    assert isinstance(body.get("type"), str), "a problem has a type"
    assert body.get("status") == response.status_code, f"problem status {body.get('status')!r}"


def valid_input_passes_validation(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any
) -> None:
    """Data the OpenAPI document calls valid is not refused by the request validation itself (that
    would be a document that promises more than the code takes)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    body = json.loads(response.content)
    assert body.get("title") != "Invalid request", f"schema-valid request refused: {body.get('errors')}"


CHECKS: list[Callable[..., None]] = [problem_json, valid_input_passes_validation]


Narrowed = Mapping[str, tuple[Sequence[Callable[..., Any]], str]]
"""Per operation label (`POST /facts`): checks left out for it, and why (a known defect, reported)."""


def call(
    case: Any,
    *,
    acting: Mapping[str, str] | None,
    narrowed: Narrowed | None = None,
    known: Mapping[str, Sequence[str]] | None = None,
    every_case: bool = False,
) -> None:
    """Send the case with every check but those `narrowed` for its operation.

    Positive cases carry the `acting` headers (a service's assertion, `operator(service)`, or a bearer
    token for the gateway itself), so that commands get past `401`/`403` and reach their logic, and in
    most of them a path parameter named in `known` is one of those ids (seeded records), so that they
    reach more than a 404; which one is fixed by the case itself. Negative cases go as generated, or
    with `every_case` carry the headers too (a service's reads are behind its assertion as well: a
    negative case without one would only ever meet the 401), except a case about the `Authorization`
    header itself. schemathesis's own `ignored_auth` check sends a case again without them, and with
    made-up ones, and expects the 401."""
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if acting and (positive or every_case) and not _tests_authorization(case):
        # Named as the security scheme names it, so that the `ignored_auth` probes can take it away.
        named = {"Authorization" if k.lower() == "authorization" else k: v for k, v in acting.items()}
        case.headers = {**(case.headers or {}), **named}
        case._has_explicit_auth = True  # as schemathesis.auths.apply_basic_auth marks the auth it sets
    if positive:
        parameters = dict(case.path_parameters or {})
        for name, ids in (known or {}).items():
            if name in parameters:
                pick = zlib.crc32(repr(sorted(parameters.items())).encode()) % (len(ids) + 1)
                if pick < len(ids):  # one case in len(ids)+1 keeps the generated id
                    parameters[name] = ids[pick]
        case.path_parameters = parameters
    excluded, _ = (narrowed or {}).get(case.operation.label, ((), ""))
    case.call_and_validate(additional_checks=CHECKS, excluded_checks=list(excluded))


def _tests_authorization(case: Any) -> bool:
    """Whether the case is about the `Authorization` header itself (a coverage case without it):
    that one goes as generated, and must meet the 401."""
    return any(name.lower() == "authorization" for name, _ in negated_parameters(case.meta))


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy (`from_fixture`) tests read and rewrite `node._nodeid`, which pytest 9.2
    no longer has (node ids became `node._id`): give it the attribute it expects."""
    node: Any = request.node
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid
