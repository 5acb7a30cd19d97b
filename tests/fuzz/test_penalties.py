"""Penalties' HTTP API under schemathesis (see conftest.py for what is checked)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import schemathesis

from services.kit.uow import UnitOfWork
from services.penalties.application import PenaltiesApp
from tests.fuzz.conftest import call, operator, penalties, served
from tests.penalties.support import exit_decision, registration, violation

KNOWN: dict[str, list[str]] = {}


def seed(app: PenaltiesApp) -> dict[str, list[str]]:
    """Two tenancies as eligibility and monitoring would announce them: one on a transition plan, one
    with a confirmed sublet (so a surcharge runs); the ids that reach them."""
    planned, sublet = uuid4(), uuid4()
    for handler, payload in (
        ("on_household_registered", registration(planned)),
        ("on_household_registered", registration(sublet)),
        ("on_exit_decided", exit_decision(planned, "transition")),
        ("on_violation_confirmed", violation(sublet, "sublet", date(2027, 3, 10))),
    ):
        uow = UnitOfWork(app)
        getattr(app, handler)(uow, payload)
        uow.commit(None)
    sanctions = [s["sanction_id"] for s in app.list_sanctions(None)]
    assert sanctions, "the confirmed sublet imposes a surcharge"
    return {"household_id": [str(planned), str(sublet)], "sanction_id": sanctions}


@pytest.fixture
def penalties_api(tmp_path: Path, bus: str) -> Iterator[schemathesis.BaseSchema]:
    api = penalties(tmp_path, bus)
    KNOWN.update(seed(api.state.runtime.app))
    with served(api) as schema:
        yield schema


schema = schemathesis.pytest.from_fixture("penalties_api")


@schema.parametrize()
def test_penalties_api(case: Any) -> None:
    call(case, acting=operator("penalties"), every_case=True, known=KNOWN)
