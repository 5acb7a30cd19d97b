"""Eligibility's HTTP API under schemathesis (see conftest.py for what is checked).

Eligibility is being changed by its owner: the defects the fuzzer found there are reported, not fixed
here, and each is narrowed below to the one check it fails, on its one operation (the others still run).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from services.eligibility.application import EligibilityApp, MemberInput
from tests.fuzz.conftest import Narrowed, call, eligibility, served, valid_input_passes_validation

NARROWED: Narrowed = {
    "POST /facts": (
        [positive_data_acceptance],
        "the body is read raw, so the OpenAPI document declares none and an empty POST (schema-valid) "
        "gets 400 `Body is not JSON`: the route needs `openapi_extra` with its requestBody",
    ),
    "GET /parameters": (
        [negative_data_rejection],
        "`on` is a plain `date`: `?on=0` is taken as 1970-01-01 (200); `services.kit.http.IsoDate` "
        "refuses it",
    ),
    "POST /parameters/{rule}/values": (
        [valid_input_passes_validation],
        '`value` is a bare constrained Decimal, documented as any string: `""` is schema-valid, then '
        "refused by validation (422); a string pattern (like `contracts.money.Yuan`'s) would say it",
    ),
    "POST /what-if": (
        [valid_input_passes_validation],
        "`values[].value`: the same bare Decimal as POST /parameters/{rule}/values",
    ),
}


KNOWN: dict[str, list[str]] = {}


def seed(app: EligibilityApp) -> dict[str, list[str]]:
    """A registered household of two; the ids that reach it."""
    members = [
        MemberInput("440604198001011234", date(1980, 1, 1), False),
        MemberInput("440604201001011236", date(2010, 1, 1), False),
    ]
    household = app.register_household(
        region="CN-FS",
        estate="Chancheng Garden",
        building="3",
        unit="1204",
        base_rent=Decimal("680.00"),
        tenancy_start=date(2019, 5, 1),
        members=members,
        registered_by="fuzz",
    )
    return {"household_id": [str(household.id)]}


@pytest.fixture
def eligibility_api(tmp_path: Path, bus: str) -> Iterator[schemathesis.BaseSchema]:
    api = eligibility(tmp_path, bus)
    app = api.state.runtime.app
    KNOWN.update(seed(app))
    with served(api) as schema:
        yield schema


schema = schemathesis.pytest.from_fixture("eligibility_api")


@schema.parametrize()
def test_eligibility_api(case: Any) -> None:
    call(case, narrowed=NARROWED, known=KNOWN)
