"""Warnings in the store (SQLite and PostgreSQL): raised once per open condition, their lifecycle,
the register fed by eligibility's events, and what the relay publishes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts.eligibility import HouseholdMembersChanged, HouseholdRegistered
from contracts.monitoring import OccupancyWarningRaised, ViolationConfirmed
from services.kit.clock import ManualClock
from services.kit.uow import UnitOfWork
from services.monitoring.application import MonitoringApp
from services.monitoring.domain import TransitionError, UnitRef
from services.monitoring.errors import NotFound
from services.monitoring.handlers import DOOR_ACCESS, UTILITY_READING, translate
from services.monitoring.intake import Rejected, SignalIntake
from services.monitoring.settings import MonitoringSettings
from tests.monitoring.support import FOSHAN, OTHER_UNIT, START, UNIT, days, door_signal, local


def registration(household: UUID, members: list[UUID], unit: str = UNIT.unit) -> HouseholdRegistered:
    return HouseholdRegistered.model_validate(
        {
            "household_id": str(household),
            "region": "CN-FS",
            "estate": UNIT.estate,
            "building": UNIT.building,
            "unit": unit,
            "base_rent": "680.00",
            "tenancy_start": "2019-05-01",
            "members": [
                {"member_id": str(m), "birth_date": "1970-01-01", "disabled": False} for m in members
            ],
        }
    )


class Scene:
    """A monitoring app on a test clock: time passes as the estates report (a batch of signals moves
    the clock to its latest opening) or as the test says (`at`), never through a command's date."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.settings = MonitoringSettings(var_dir=tmp_path)
        self.env = env
        self.clock = ManualClock(datetime.combine(START, time(23, 0), tzinfo=FOSHAN))
        self.app = MonitoringApp(self.settings, env, clock=self.clock)
        self.intake = SignalIntake(self.app, self.settings)
        self.household = uuid4()
        self.members = [uuid4(), uuid4()]
        self.sequence = 0

    def register(self) -> None:
        uow = UnitOfWork(self.app)
        self.app.on_household_registered(uow, registration(self.household, self.members))
        self.app.on_household_registered(uow, registration(self.household, self.members))  # replayed
        uow.commit(None)
        self.app.catch_up()
        self.app.enrol_credential("card", "c-1", self.members[0])

    def at(self, day: date) -> date:
        """Move the clock to the evening of `day` (never back); returns `day`."""
        self.clock.now = max(self.clock.now, datetime.combine(day, time(23, 0), tzinfo=FOSHAN))
        return day

    def signals(
        self, items: list[dict[str, Any]], subject: str = DOOR_ACCESS.subject, advance: bool = True
    ) -> tuple[set[UnitRef], list[Rejected]]:
        stamps = [datetime.fromisoformat(i["at"]) for i in items if "at" in i] if advance else []
        if stamps:
            self.clock.now = max(self.clock.now, max(stamps))
        self.app.catch_up()
        self.sequence += 1
        return self.intake.fold_many([(subject, self.sequence, json.dumps(items).encode())])

    def strangers(self, first: date, count: int) -> None:
        """A sub-tenant every evening; the household drops by every tenth day (so: not vacant)."""
        items = [door_signal(UNIT, "tenant", local(day, 19)) for day in days(first, count)]
        items += [door_signal(UNIT, "c-1", local(day, 10)) for day in days(first, count, step=10)]
        self.signals(items)

    def restart(self) -> None:
        self.app.close()
        self.app = MonitoringApp(self.settings, self.env, clock=self.clock)
        self.intake = SignalIntake(self.app, self.settings)


@pytest.fixture
def scene(tmp_path: Path, persistence: dict[str, str]) -> Iterator[Scene]:
    s = Scene(tmp_path, persistence)
    s.register()
    yield s
    s.app.close()


def test_register_from_eligibility_events_and_credential_enrolment(scene: Scene) -> None:
    scene.app.catch_up()
    assert scene.app.register.by_unit[UNIT] == scene.household
    assert scene.app.enrol_credential("card", "c-1", scene.members[0]) == UNIT
    assert scene.app.enrol_credential("card", "c-1", scene.members[0]) == UNIT  # idempotent
    with pytest.raises(NotFound):
        scene.app.enrol_credential("face", "f-9", uuid4())
    newcomer = uuid4()
    uow = UnitOfWork(scene.app)
    changed = HouseholdMembersChanged(
        household_id=scene.household, members=registration(scene.household, [newcomer]).members
    )
    assert scene.app.on_members_changed(uow, changed)
    uow.commit(None)
    scene.app.enrol_credential("face", "f-1", newcomer)
    scene.restart()
    scene.app.catch_up()
    hashed = scene.app.hasher.key
    assert scene.app.register.credentials == {
        hashed("card", "c-1"): scene.members[0],
        hashed("face", "f-1"): newcomer,
    }
    assert scene.app.register.households[scene.household].members == frozenset({newcomer})


def test_unknown_units_and_malformed_signals_are_refused_not_fatal(scene: Scene) -> None:
    good = door_signal(UNIT, "tenant", local(START, 19))
    unknown_unit = {**good, "unit": "9999"}
    unknown_estate = {**good, "estate": "Atlantis"}
    malformed = {**good, "direction": "sideways"}
    future = {**good, "at": "2099-01-01T00:00:00+08:00"}
    touched, rejected = scene.signals([good, unknown_unit, unknown_estate, malformed, future], advance=False)
    assert touched == {UNIT}
    assert sorted(r.outcome for r in rejected) == ["future", "malformed", "unknown_estate", "unknown_unit"]
    assert scene.app.book.estate_days[UNIT.estate] == START.toordinal()
    assert scene.app.book.units[UNIT].days[START.toordinal()] == [0, 1, 0]
    touched, rejected = scene.intake.fold_many([(DOOR_ACCESS.subject, 99, b"{not json")])
    assert not touched and rejected[0].reason.startswith("not JSON")
    assert scene.intake.fold_many([(DOOR_ACCESS.subject, 99, json.dumps(good).encode())]) == (set(), [])
    scene.sequence = 99
    reading = {
        "estate": UNIT.estate,
        "building": UNIT.building,
        "unit": UNIT.unit,
        "month": "2026-09",
        "water_m3": "0.5",
    }
    touched, _ = scene.signals([reading], UTILITY_READING.subject)
    assert touched == {UNIT}


def test_a_warning_is_raised_once_per_open_condition_even_after_a_restart(scene: Scene) -> None:
    scene.strangers(START, 30)
    (warning_id,) = scene.app.detect()
    assert scene.app.detect() == []
    scene.restart()
    scene.strangers(START + timedelta(days=30), 3)
    assert scene.app.detect() == []
    (open_warning,) = scene.app.open_warnings(UNIT.estate)
    assert open_warning["warning_id"] == str(warning_id) and open_warning["condition"] == "sublet_or_lend"
    assert scene.app.open_warnings("Another estate") == []
    detail = scene.app.warning(warning_id)
    assert "other people" in detail["explanation"] and detail["evidence"]


def test_lifecycle_and_new_evidence_after_a_dismissal(scene: Scene) -> None:
    scene.strangers(START, 30)
    (first,) = scene.app.detect()
    day = scene.at(START + timedelta(days=30))
    with pytest.raises(TransitionError):
        scene.app.confirm(first, "inspector.wu", "sublet", day, "")
    scene.app.assign(first, "inspector.wu", day)
    with pytest.raises(TransitionError):
        scene.app.confirm(first, "inspector.wu", "vacant", day, "")  # not a finding of this condition
    with pytest.raises(TransitionError):
        scene.app.dismiss(first, "inspector.wu", "  ", day)
    scene.app.dismiss(first, "inspector.wu", "relatives caring for the tenant, who lives there", day)
    assert scene.app.open_warnings() == []
    assert scene.app.detect() == []  # the same days of data do not raise it again
    scene.strangers(day + timedelta(days=1), 30)
    (second,) = scene.app.detect()
    assert second != first
    scene.app.assign(second, "inspector.wu", scene.at(day + timedelta(days=31)))
    scene.app.confirm(
        second, "inspector.wu", "sublet", scene.at(day + timedelta(days=32)), "sub-tenant met on site"
    )
    with pytest.raises(TransitionError):
        scene.app.dismiss(second, "inspector.wu", "changed my mind", scene.at(day + timedelta(days=33)))
    assert [w["status"] for w in scene.app.open_warnings()] == ["confirmed"]
    scene.app.rectify(second, "officer.he", scene.at(day + timedelta(days=60)), "sub-tenant left")
    assert scene.app.warning(second)["status"] == "rectified"
    assert scene.app.open_warnings() == []


def test_relay_translation_of_the_lifecycle(scene: Scene) -> None:
    scene.strangers(START, 30)
    (warning_id,) = scene.app.detect()
    scene.app.assign(warning_id, "inspector.wu", scene.at(START + timedelta(days=31)))
    scene.app.confirm(
        warning_id, "inspector.wu", "sublet", scene.at(START + timedelta(days=32)), "seen on site"
    )
    outgoing = [
        o
        for n in scene.app.notification_log.select(start=1, limit=100)
        for o in translate(scene.app.mapper.to_domain_event(n))
    ]
    assert [o.spec.name for o in outgoing] == [
        "warning-raised",
        "warning-assigned",
        "warning-confirmed",
        "violation-confirmed",
    ]
    assert all(o.subject_id == str(scene.household) for o in outgoing)
    raised = outgoing[0].payload
    assert isinstance(raised, OccupancyWarningRaised) and raised.risk_score > 0
    violation = outgoing[-1].payload
    assert isinstance(violation, ViolationConfirmed)
    assert (violation.violation, violation.unit, violation.inspector_id) == (
        "sublet",
        UNIT.unit,
        "inspector.wu",
    )


def test_occupancy_history_query(scene: Scene) -> None:
    scene.app.enrol_credential("card", "c-1", scene.members[0])
    scene.signals(
        [door_signal(UNIT, "c-1", local(START, 7, 30)), door_signal(UNIT, "guest", local(START, 20))]
    )
    history = scene.app.occupancy(UNIT, days=7)
    assert history["days"] == [
        {"day": START.isoformat(), "member_openings": 1, "other_openings": 1, "member_openings_elsewhere": 0}
    ]
    assert {a["condition"] for a in history["assessments"]} == {"vacancy", "sublet_or_lend"}
    assert 0 <= history["risk_score"] <= 100


def test_an_estate_whose_readers_went_silent_raises_no_vacancy(scene: Scene) -> None:
    """Detection runs on each estate's own signal clock: a reader outage is not a vacant estate."""
    neighbour = uuid4()
    uow = UnitOfWork(scene.app)
    payload = registration(neighbour, [uuid4()]).model_copy(update={"estate": OTHER_UNIT.estate})
    scene.app.on_household_registered(uow, payload)
    uow.commit(None)
    scene.app.catch_up()
    # The household at UNIT comes home every day for 60 days; the other estate's readers report once.
    scene.signals([door_signal(UNIT, "c-1", local(day, 18)) for day in days(START, 60)])
    other = UnitRef(OTHER_UNIT.estate, UNIT.building, UNIT.unit)
    scene.signals([door_signal(other, "visitor", local(START, 9))])
    assert scene.app.detect() == []
    assert scene.app.occupancy(other)["as_of"] == START.isoformat()
    # Once the other estate reports again, 40 days on, its silent flat is vacant.
    scene.signals([door_signal(other, "visitor", local(START + timedelta(days=40), 9))])
    (warning,) = scene.app.detect()
    assert scene.app.warning(warning)["condition"] == "vacancy"
    assert scene.app.warning(warning)["raised_on"] == (START + timedelta(days=40)).isoformat()
