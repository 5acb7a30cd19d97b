"""Public security's verification of a household's actual residence closes the warning it was asked
for (issue 22), in the store (SQLite and PostgreSQL): a sublet found is confirmed with that finding and
published as the violation penalties sanctions, as an inspector's confirmation is; "lives there"
dismisses it; a finding that is no finding for the warning's condition, or a warning already closed,
is left for an inspector."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from contracts.eligibility import ResidenceVerified
from services.monitoring.handlers import close_verified, translate
from tests.monitoring.support import START
from tests.monitoring.test_exit import handle
from tests.monitoring.test_warnings import Scene


@pytest.fixture
def scene(tmp_path: Path, persistence: dict[str, str]) -> Iterator[Scene]:
    s = Scene(tmp_path, persistence)
    s.register()
    yield s
    s.app.close()


def verified(scene: Scene, warning: UUID, finding: str, on: date) -> ResidenceVerified:
    return ResidenceVerified.model_validate(
        {
            "household_id": str(scene.household),
            "request_id": str(uuid4()),
            "warning_id": str(warning),
            "department": "public_security",
            "finding": finding,
            "note": "neighbours say a tenant pays rent",
            "verified_by": "dept.public-security",
            "verified_on": on.isoformat(),
        }
    )


def test_a_sublet_found_by_public_security_is_confirmed_and_published_as_the_violation(scene: Scene) -> None:
    scene.strangers(START, 30)
    (sublet,) = scene.app.detect()
    on = scene.at(START + timedelta(days=33))
    before = scene.app.notification_log.select(start=1, limit=1000)[-1].id

    assert handle(scene, lambda uow: close_verified(uow, verified(scene, sublet, "sublet", on))) is True

    detail = scene.app.warning(sublet)
    assert (detail["status"], detail["finding"]) == ("confirmed", "sublet")
    published = [
        o.spec.name
        for n in scene.app.notification_log.select(start=before + 1, limit=100)
        for o in translate(scene.app.mapper.to_domain_event(n))
    ]
    assert "violation-confirmed" in published
    # the same answer again (a redelivery): the warning is closed, nothing changes
    assert handle(scene, lambda uow: close_verified(uow, verified(scene, sublet, "sublet", on))) is False


def test_lives_there_dismisses_and_a_finding_of_another_condition_is_left_open(scene: Scene) -> None:
    scene.strangers(START, 30)
    (sublet,) = scene.app.detect()
    on = scene.at(START + timedelta(days=33))
    assert handle(scene, lambda uow: close_verified(uow, verified(scene, sublet, "vacant", on))) is False
    assert scene.app.warning(sublet)["status"] == "raised"  # "vacant" is no finding for a sublet warning

    assert handle(scene, lambda uow: close_verified(uow, verified(scene, sublet, "lives_there", on))) is True
    assert scene.app.warning(sublet)["status"] == "dismissed"
    unknown = verified(scene, uuid4(), "sublet", on)
    assert handle(scene, lambda uow: close_verified(uow, unknown)) is False
