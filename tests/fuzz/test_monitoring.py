"""Monitoring' HTTP API under schemathesis (see conftest.py for what is checked)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection

from services.kit.uow import UnitOfWork
from services.monitoring.application import MonitoringApp
from tests.fuzz.conftest import Narrowed, call, monitoring, operator, served
from tests.monitoring.test_warnings import registration

BATCH = (
    "a batch is taken signal by signal: the malformed ones are listed in `rejected` and the rest "
    "published (202), so a batch with one bad signal is not refused as a whole (only a batch with no "
    "valid signal is: 422). By design (docs/reliability.md); each signal itself is held to its documented "
    "schema (tests/contracts/test_monitoring_strict.py: no `at: 0`, no numeric quantities)"
)
NARROWED: Narrowed = {
    "POST /signals/door-access": ([negative_data_rejection], BATCH),
    "POST /signals/utility-readings": ([negative_data_rejection], BATCH),
}


KNOWN: dict[str, list[str]] = {}


def seed(app: MonitoringApp) -> dict[str, list[str]]:
    """A registered household (as eligibility announces it) with a member; the ids that reach it."""
    household, member = uuid4(), uuid4()
    uow = UnitOfWork(app)
    app.on_household_registered(uow, registration(household, [member]))
    uow.commit(None)
    return {"household_id": [str(household)]}


@pytest.fixture
def monitoring_api(tmp_path: Path, bus: str) -> Iterator[schemathesis.BaseSchema]:
    api = monitoring(tmp_path, bus)
    KNOWN.update(seed(api.state.runtime.app))
    with served(api) as schema:
        yield schema


schema = schemathesis.pytest.from_fixture("monitoring_api")


@schema.parametrize()
def test_monitoring_api(case: Any) -> None:
    call(case, acting=operator("monitoring"), every_case=True, narrowed=NARROWED, known=KNOWN)
