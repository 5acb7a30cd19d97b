"""The gateway documents each parameter and body field it passes on at least as strictly as the
service behind it does, so that a value the gateway's document allows is never refused downstream
(the HTTP fuzzer found states, pools, course ids, regions and label lengths documented looser). The
documents are compared as the apps publish them: the real services' (built on fresh stores, not
started) beside the gateway's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.api import create_gateway
from gateway.settings import GatewaySettings
from gateway.tokens import Tokens
from gateway.users import Directory
from tests.fuzz.conftest import SERVICES
from tests.gateway.conftest import GatewayFactory, bearer

Route = tuple[str, str]


def pairs(lines: str) -> dict[Route, tuple[str, Route]]:
    """`METHOD /api/path  service METHOD /path` per line; `service =` for the same method and path
    without the `/api` prefix."""
    found: dict[Route, tuple[str, Route]] = {}
    for line in lines.strip().splitlines():
        method, path, service, *theirs = line.split()
        their_method, their_path = (method, path.removeprefix("/api")) if theirs == ["="] else theirs
        found[(method.lower(), path)] = (service, (their_method.lower(), their_path))
    return found


QUERIES = pairs(
    """
    GET /api/households  eligibility =
    GET /api/cases  eligibility =
    GET /api/review-queue  eligibility GET /cases
    GET /api/assessments  eligibility =
    POST /api/households/search  eligibility =
    GET /api/reviewers/{operator_id}/report  eligibility =
    GET /api/parameters  eligibility =
    GET /api/parameters/history  eligibility =
    GET /api/warnings  monitoring =
    GET /api/sanctions  penalties =
    GET /api/transitions  penalties =
    GET /api/appeals  penalties =
    GET /api/resettlement-cases  resettlement GET /cases
    GET /api/referrals  training =
    GET /api/pools/{pool}/units  resettlement =
    GET /api/courses/{course_id}  training =
    GET /api/federation/exchanges  federation GET /federation/v1/exchanges
    """
)
"""Gateway routes whose query and path parameters go to the service under the same names."""

BODIES = pairs(
    """
    POST /api/households  eligibility =
    POST /api/households/search  eligibility =
    POST /api/cases/{case_id}/findings  eligibility =
    POST /api/cases/{case_id}/approval  eligibility =
    POST /api/cases/{case_id}/send-back  eligibility =
    POST /api/cases/{case_id}/assessment-requests  eligibility =
    POST /api/cases/{case_id}/assessment-reports  eligibility =
    POST /api/cases/{case_id}/appeals  eligibility =
    POST /api/cases/{case_id}/appeal-decision  eligibility =
    POST /api/parameters/{rule}/values  eligibility =
    POST /api/what-if  eligibility =
    POST /api/households/{household_id}/sanctions  penalties =
    POST /api/sanctions/{sanction_id}/appeals  penalties =
    POST /api/appeals/{appeal_id}/resolve  penalties =
    POST /api/resettlement-cases/{case_id}/withdraw  resettlement POST /cases/{case_id}/withdraw
    POST /api/courses  training =
    POST /api/referrals  training =
    POST /api/courses/{course_id}/enrolments  training =
    POST /api/courses/{course_id}/sessions/{session}/attendance  training =
    POST /api/referrals/{referral_id}/employment  training =
    POST /api/referrals/{referral_id}/employment/stable  training =
    """
)
"""Gateway routes whose JSON body the service receives as the gateway validated it."""

NARROWING = frozenset(
    {"maxLength", "minLength", "maxItems", "minItems", "maximum", "minimum", "pattern", "not"}
)
"""Keywords the gateway may add where the service has none: each only narrows what is allowed."""
IGNORED = frozenset({"title", "description", "default", "examples", "additionalProperties"})
"""Not constraints on a value (the gateway drops unknown fields instead of passing them on)."""


def resolved(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = document["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    if isinstance(node, dict):
        found = {k: resolved(document, v) for k, v in node.items() if k not in IGNORED | {"properties"}}
        if "properties" in node:  # field names, not keywords: a field may be called `title`
            found["properties"] = {k: resolved(document, v) for k, v in node["properties"].items()}
        return found
    if isinstance(node, list):
        return [resolved(document, v) for v in node]
    return node


def looser(gateway: Any, service: Any, where: str) -> list[str]:
    """Where the gateway's schema allows what the service's does not (empty: at least as strict)."""
    if not (isinstance(gateway, dict) and isinstance(service, dict)):
        return [] if gateway == service else [f"{where}: {gateway!r} is not {service!r}"]
    found: list[str] = []
    for key, wanted in service.items():
        if key not in gateway:
            found.append(f"{where}: no {key} (the service's: {wanted!r})")
        elif key == "enum":
            extra = set(gateway[key]) - set(wanted)
            found += [f"{where}: enum also allows {sorted(extra)}"] if extra else []
        elif key == "required":
            missing = set(wanted) - set(gateway[key])
            found += [f"{where}: {sorted(missing)} optional, required behind"] if missing else []
        elif key == "properties":
            for name, field in gateway[key].items():
                if name not in wanted:
                    found.append(f"{where}.{name}: a field the service does not take")
                else:
                    found += looser(field, wanted[name], f"{where}.{name}")
        elif key in ("anyOf", "oneOf"):
            for option in gateway[key]:
                if all(looser(option, theirs, where) for theirs in wanted):
                    found.append(f"{where}: option {option!r} is none of the service's")
        elif isinstance(wanted, dict):
            found += looser(gateway[key], wanted, f"{where}.{key}")
        elif gateway[key] != wanted and not _narrower(key, gateway[key], wanted):
            found.append(f"{where}: {key} {gateway[key]!r}, the service's {wanted!r}")
    found += [f"{where}: {k} added" for k in gateway if k not in service and k not in NARROWING | {"enum"}]
    return found


def _narrower(key: str, mine: Any, theirs: Any) -> bool:
    if key in ("maxLength", "maxItems", "maximum"):
        return bool(mine <= theirs)
    if key in ("minLength", "minItems", "minimum"):
        return bool(mine >= theirs)
    return False


def body(document: dict[str, Any], route: Route) -> Any:
    content = document["paths"][route[1]][route[0]]["requestBody"]["content"]["application/json"]
    return resolved(document, content["schema"])


def parameters(document: dict[str, Any], route: Route) -> dict[str, Any]:
    operation = document["paths"][route[1]][route[0]]
    return {
        p["name"]: resolved(document, p["schema"])
        for p in operation.get("parameters", [])
        if p["in"] != "header"
    }


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root: Path = tmp_path_factory.mktemp("declarations")
    found = {name: make(root / name, "nats://127.0.0.1:1").openapi() for name, make in SERVICES.items()}
    settings = GatewaySettings(var_dir=root, services={name: f"http://{name}" for name in SERVICES})
    tokens = Tokens(settings, Ed25519PrivateKey.generate())
    api = create_gateway(settings, tokens=tokens, directory=Directory([], allow_demo=False), mounts={})
    found["gateway"] = api.openapi()
    return found


@pytest.mark.parametrize("route", list(QUERIES), ids=lambda r: f"{r[0].upper()} {r[1]}")
def test_parameters_are_at_least_as_strict_as_the_services(
    documents: dict[str, dict[str, Any]], route: Route
) -> None:
    service, behind = QUERIES[route]
    mine, theirs = parameters(documents["gateway"], route), parameters(documents[service], behind)
    problems = [
        p for name, schema in mine.items() if name in theirs for p in looser(schema, theirs[name], name)
    ]
    assert problems == [], f"{service} {behind}: " + "; ".join(problems)


@pytest.mark.parametrize("route", list(BODIES), ids=lambda r: f"{r[0].upper()} {r[1]}")
def test_bodies_are_at_least_as_strict_as_the_services(
    documents: dict[str, dict[str, Any]], route: Route
) -> None:
    service, behind = BODIES[route]
    mine, theirs = body(documents["gateway"], route), body(documents[service], behind)
    # a registration is a unit or a subsidy, on both sides: each of the gateway's kinds is one of theirs
    options = theirs.get("anyOf") or theirs.get("oneOf") or [theirs]
    for kind in mine.get("anyOf") or mine.get("oneOf") or [mine]:
        closest = min((looser(kind, option, "body") for option in options), key=lambda found: len(found))
        assert closest == [], f"{service} {behind}: " + "; ".join(closest)


def test_the_comparison_sees_a_looser_declaration() -> None:
    """The check itself: what the fuzzer found before the fix is named."""
    service = {"anyOf": [{"enum": ["active", "lifted"], "type": "string"}, {"type": "null"}]}
    assert looser({"anyOf": [{"type": "string"}, {"type": "null"}]}, service, "state")
    assert looser({"type": "string", "maxLength": 200}, {"type": "string", "maxLength": 64}, "estate")
    assert looser({"type": "string"}, {"type": "string", "format": "uuid"}, "course_id")
    wide = {"properties": {"title": {"type": "string", "maxLength": 200}}}
    narrow = {"properties": {"title": {"type": "string", "maxLength": 64}}}
    assert looser(resolved({}, wide), resolved({}, narrow), "body"), "a field named like a keyword"
    assert not looser({"type": "integer", "minimum": 1, "maximum": 500}, {"type": "integer"}, "limit")


async def test_a_day_the_service_would_refuse_is_refused_at_the_gateway(
    gateway: GatewayFactory, tokens: Tokens
) -> None:
    """A `format: date` in both documents did not mean the same: the gateway's plain `date` took `0`
    (the Unix epoch) and `2026-01-01T00:00:00`, which the services' `IsoDate` refuses."""
    admin = bearer(tokens, "admin")
    async with gateway() as client:
        for on in ("0", "2026-01-01T00:00:00", "20260101"):
            response = await client.get("/api/parameters", params={"on": on}, headers=admin)
            assert response.status_code == 422 and response.json()["title"] == "Invalid request", (
                response.text
            )
        body = {"on": 0}  # (the overdue check takes no date: the service's day is its own)
        url = "/api/sanctions/00000000-0000-4000-8000-000000000000/serve-notice"
        response = await client.post(url, json=body, headers=admin)
        assert response.status_code == 422, response.text
