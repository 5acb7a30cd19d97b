"""Training' HTTP API under schemathesis (see conftest.py for what is checked)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import schemathesis

from services.training.application import CourseSpec, TrainingApp
from tests.fuzz.conftest import call, operator, served, training
from tests.training.conftest import exit_decided, feed, household

KNOWN: dict[str, list[str]] = {}


def seed(app: TrainingApp) -> dict[str, list[str]]:
    """A course and an exiting household whose working-age member was referred (and enrolled); the
    ids that reach them."""
    registered = household()
    today = app.today()  # the machine's day (this app has no test clock): the exit is decided today
    feed(app, registered)
    feed(app, exit_decided(registered.household_id, on=today))
    sessions = [(today + timedelta(days=7 * week), f"week {week}") for week in range(1, 5)]
    spec = CourseSpec("fuzz-welding", "Welding", "HR bureau", "Chancheng Garden", 2, sessions)
    course = app.schedule_course(spec, "fuzz")
    views = app.catch_up()
    with app.lock:
        referrals = [str(r) for r in views.referrals]
    assert referrals, "the working-age member is referred on the exit decision"
    app.enrol(course, UUID(referrals[0]), today, "fuzz")
    return {
        "household_id": [str(registered.household_id)],
        "course_id": [str(course)],
        "referral_id": referrals,
    }


@pytest.fixture
def training_api(tmp_path: Path, bus: str) -> Iterator[schemathesis.BaseSchema]:
    api = training(tmp_path, bus)
    KNOWN.update(seed(api.state.runtime.app))
    with served(api) as schema:
        yield schema


schema = schemathesis.pytest.from_fixture("training_api")


@schema.parametrize()
def test_training_api(case: Any) -> None:
    call(case, acting=operator("training"), every_case=True, known=KNOWN)
