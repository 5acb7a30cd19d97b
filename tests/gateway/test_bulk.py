"""The bulk doors at the gateway before the real eligibility app (in process, SQLite): registrations in
batches (units and rent subsidies) by the housing office's register, `reference` as the key that makes
a registration sent again answer the household it created, `Idempotency-Key` on the other unsafe
requests, per-line refusals for an estate-scoped client, and the lines-per-second budget (429 with
Retry-After, nothing registered by the refused batch)."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.tokens import Tokens
from infra.population.idnumbers import IdNumbers
from services.eligibility.application import EligibilityApp
from services.eligibility.service import build as build_eligibility
from services.eligibility.settings import EligibilitySettings
from tests.gateway.conftest import GatewayFactory, bearer
from tests.gateway.fakes import IN_ESTATE, OUT_ESTATE

NDJSON = {"content-type": "application/x-ndjson"}


@pytest.fixture
def eligibility(tmp_path: Path) -> Iterator[dict[str, httpx.AsyncBaseTransport]]:
    app = EligibilityApp(
        EligibilitySettings(var_dir=tmp_path),
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "eligibility.sqlite")},
    )
    api, _ = build_eligibility(EligibilitySettings(var_dir=tmp_path), app=app)
    try:
        yield {"http://eligibility": httpx.ASGITransport(app=api)}
    finally:
        app.close()


@pytest.fixture
async def real(
    gateway: GatewayFactory, eligibility: dict[str, httpx.AsyncBaseTransport]
) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(mounts=eligibility, services={"eligibility": "http://eligibility"}) as client:
        yield client


def households(n: int, *, seed: int = 7, estate: str = IN_ESTATE, subsidies: int = 0) -> list[dict[str, Any]]:
    """`n` households in units of `estate` and `subsidies` on a rent subsidy, each with a reference."""
    ids = IdNumbers(random.Random(seed))
    out: list[dict[str, Any]] = []
    for i in range(n + subsidies):
        birth = date(1960, 1, 1) + timedelta(days=(i * 37) % 15000)
        members = [{"id_number": ids.issue("440604", birth, male=i % 2 == 0), "birth_date": str(birth)}]
        if i < n:
            out.append(
                {
                    "reference": f"REG-{seed}-{i:05d}",
                    "region": "CN-FS",
                    "estate": estate,
                    "building": f"B{i % 9 + 1}",
                    "unit": f"{i + 101}",
                    "base_rent": "650.00",
                    "tenancy_start": "2021-03-01",
                    "members": members,
                }
            )
        else:
            out.append(
                {
                    "reference": f"SUB-{seed}-{i:05d}",
                    "region": "CN-FS",
                    "district": "Chancheng",
                    "monthly_subsidy": "800.00",
                    "subsidy_start": "2022-01-01",
                    "members": members,
                }
            )
    return out


def ndjson(lines: list[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(line) for line in lines) + "\n").encode()


async def test_a_batch_registers_units_and_subsidies_and_a_resend_answers_the_same_households(
    real: httpx.AsyncClient, tokens: Tokens
) -> None:
    batch = households(250, subsidies=50)
    first = await real.post(
        "/api/registrations", content=ndjson(batch), headers={**NDJSON, **bearer(tokens, "registry")}
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["received"], body["registered"], body["duplicates"], body["rejected"]) == (300, 300, 0, 0)
    created = {r["reference"]: r["household_id"] for r in body["results"]}
    assert len(set(created.values())) == 300
    for line in batch:  # ID numbers never come back
        assert line["members"][0]["id_number"] not in first.text

    again = await real.post("/api/registrations", json=batch, headers=bearer(tokens, "registry"))
    assert again.status_code == 200, again.text
    assert again.json()["duplicates"] == 300 and again.json()["registered"] == 0
    assert {r["reference"]: r["household_id"] for r in again.json()["results"]} == created

    listed = await real.get(
        "/api/households/" + created["SUB-7-00250"], headers=bearer(tokens, "admin")
    )  # a rent-subsidy household, readable through the gateway
    assert listed.status_code == 200 and listed.json()["reference"] == "SUB-7-00250"


async def test_one_registration_sent_again_with_its_reference_answers_200_with_the_household(
    real: httpx.AsyncClient, tokens: Tokens
) -> None:
    [unit, subsidy] = households(1, seed=11, subsidies=1)
    for body in (unit, subsidy):
        first = await real.post("/api/households", json=body, headers=bearer(tokens, "registry"))
        assert first.status_code == 201, first.text
        assert first.json()["reference"] == body["reference"]
        again = await real.post("/api/households", json=body, headers=bearer(tokens, "registry"))
        assert again.status_code == 200, again.text
        assert again.json()["household_id"] == first.json()["household_id"]


async def test_an_invalid_line_is_named_and_costs_the_others_nothing(
    real: httpx.AsyncClient, tokens: Tokens
) -> None:
    batch = households(3, seed=13)
    batch[1]["base_rent"] = 650.0  # a float is not money
    raw = ndjson(batch).replace(b"\n", b"\nnot json\n", 1)
    answer = await real.post(
        "/api/registrations", content=raw, headers={**NDJSON, **bearer(tokens, "registry")}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["registered"] == 2 and body["rejected"] == 2
    assert {(p["line"], p["field"]) for p in body["problems"]} == {(2, "(line)"), (3, "tenancy.base_rent")}


async def test_an_estate_scoped_register_is_refused_lines_outside_its_estates_before_anything_is_sent(
    real: httpx.AsyncClient, tokens: Tokens
) -> None:
    batch = [
        *households(2, seed=17),
        *households(1, seed=19, estate=OUT_ESTATE),
        *households(0, seed=23, subsidies=1),
    ]
    refused = await real.post("/api/registrations", json=batch, headers=bearer(tokens, "registry_scoped"))
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert [line["line"] for line in refused.json()["lines"]] == [3, 4]
    mine = await real.post("/api/registrations", json=batch[:2], headers=bearer(tokens, "registry_scoped"))
    assert mine.status_code == 200 and mine.json()["registered"] == 2, mine.text
    for who in ("reviewer", "department"):  # no households:write
        answer = await real.post("/api/registrations", json=batch[:1], headers=bearer(tokens, who))
        assert answer.status_code == 403, answer.text


async def test_lines_per_second_are_a_budget_per_client_with_retry_after(
    gateway: GatewayFactory, eligibility: dict[str, httpx.AsyncBaseTransport], tokens: Tokens
) -> None:
    # 0.01 lines per second: once the burst is spent, nothing comes back within the test, however slow.
    async with gateway(
        mounts=eligibility,
        services={"eligibility": "http://eligibility"},
        line_rate_per_s=0.01,
        line_rate_burst=100,
        line_rates={"registry.chancheng": 1000.0},
    ) as client:
        spent = await client.post(
            "/api/registrations", json=households(150, seed=29), headers=bearer(tokens, "registry")
        )
        assert (
            spent.status_code == 200 and spent.json()["registered"] == 150
        )  # larger than the burst: it goes
        over = await client.post(
            "/api/registrations", json=households(5, seed=31), headers=bearer(tokens, "registry")
        )
        assert over.status_code == 429, over.text
        assert over.headers["content-type"] == "application/problem+json"
        assert int(over.headers["retry-after"]) >= 100 * 50  # 5 lines at 0.01/s, after 50 of debt
        single = await client.post(
            "/api/households", json=households(1, seed=37)[0], headers=bearer(tokens, "registry")
        )
        assert single.status_code == 429
        # nothing of the refused batch was registered; another client has its own budget
        other = await client.post(
            "/api/registrations", json=households(5, seed=31), headers=bearer(tokens, "registry_scoped")
        )
        assert other.status_code == 200 and other.json()["registered"] == 5, other.text


async def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(
    real: httpx.AsyncClient, tokens: Tokens
) -> None:
    [body, other] = households(2, seed=41)
    body.pop("reference")  # no natural key: the header is the client's only way to retry safely
    admin = bearer(tokens, "admin")
    first = await real.post("/api/households", json=body, headers={**admin, "Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    again = await real.post("/api/households", json=body, headers={**admin, "Idempotency-Key": '"k-1"'})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    changed = await real.post("/api/households", json=other, headers={**admin, "Idempotency-Key": "k-1"})
    assert changed.status_code == 422 and changed.json()["title"] == "Idempotency-Key reused"
    # without the key, the same body is a second registration: eligibility refuses the member
    twice = await real.post("/api/households", json=body, headers=admin)
    assert twice.status_code == 409, twice.text
    # a refusal is kept too: the retry of a refused request is refused alike
    refused = await real.post("/api/households", json=body, headers={**admin, "Idempotency-Key": "k-2"})
    replayed = await real.post("/api/households", json=body, headers={**admin, "Idempotency-Key": "k-2"})
    assert refused.status_code == replayed.status_code == 409
    assert replayed.headers["idempotent-replayed"] == "true"
    # keys are the client's own: another account's k-1 is another request
    registry = await real.post(
        "/api/households", json=other, headers={**bearer(tokens, "registry"), "Idempotency-Key": "k-1"}
    )
    assert registry.status_code == 201 and "idempotent-replayed" not in registry.headers
    bad = await real.post("/api/households", json=other, headers={**admin, "Idempotency-Key": "sp ace"})
    assert bad.status_code == 400, bad.text


def test_a_key_in_progress_is_409_and_one_that_failed_is_forgotten(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from gateway.idempotency import Replies
    from services.kit.clock import ManualClock

    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    replies = Replies(tmp_path / "r.sqlite3", clock, ttl_s=3600)
    assert replies.begin("a", "POST /x k", "f1") is None
    kept = replies.begin("a", "POST /x k", "f1")
    assert kept is not None and kept.status is None  # in progress: the route answers 409
    replies.forget("a", "POST /x k")  # the first ended in a 5xx
    assert replies.begin("a", "POST /x k", "f1") is None
    replies.keep("a", "POST /x k", 201, b"{}", "application/json")
    kept = replies.begin("a", "POST /x k", "f1")
    assert kept is not None and kept.status == 201
    clock.advance(seconds=3601)  # expired: the key may name a new request
    assert replies.begin("a", "POST /x k", "f2") is None
    replies.close()
