"""Each detector on crafted signal histories, including the edge cases the issue names."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from services.monitoring.detectors import (
    DetectorParams,
    assess_sublet,
    assess_vacancy,
    registration_lead,
    risk_score,
)
from services.monitoring.domain import RegistrationRecord
from tests.monitoring.support import OTHER_UNIT, START, UNIT, World, card, days, local

PARAMS = DetectorParams()  # 30 days vacancy; sublet: 20 openings, 60 % others, 70 % elsewhere


def vacancy(world: World, as_of: date, since: date | None = None):  # type: ignore[no-untyped-def]
    household = world.register.households[world.register.by_unit[UNIT]]
    first = world.book.first_day or as_of.toordinal()
    return assess_vacancy(
        world.book.units.get(UNIT),
        household,
        as_of.toordinal(),
        first,
        None if since is None else since.toordinal(),
        PARAMS,
    )


def monitored_world(members: int = 1) -> World:
    """A world whose monitoring started on START (another unit's door opened that day)."""
    world = World()
    world.household(UNIT, members)
    neighbour = world.household(OTHER_UNIT)
    world.enrol("n-1", neighbour.members[0])
    world.open_door(OTHER_UNIT, "n-1", local(START, 9))
    return world


def test_vacancy_after_n_days_without_a_member_and_not_before() -> None:
    world = monitored_world()
    member = world.households[UNIT].members[0]
    world.enrol("c-1", member)
    world.open_door(UNIT, "c-1", local(START, 18))
    assert not vacancy(world, START + timedelta(days=29)).triggered
    found = vacancy(world, START + timedelta(days=30))
    assert found.triggered and found.condition == "vacancy"
    assert "30 day(s)" in found.explanation and "threshold 30" in found.explanation
    assert dict(found.evidence)["last_member_access"] == START.isoformat()


def test_a_unit_never_opened_counts_from_the_start_of_monitoring_not_the_tenancy() -> None:
    world = monitored_world()
    assert not vacancy(world, START + timedelta(days=28)).triggered  # tenancy began in 2020
    assert vacancy(world, START + timedelta(days=30)).triggered


def test_strangers_do_not_make_a_flat_occupied() -> None:
    world = monitored_world()
    for day in days(START, 40):
        world.open_door(UNIT, "stranger", local(day, 20))
    assert vacancy(world, START + timedelta(days=39)).triggered


def test_utilities_in_use_suppress_vacancy_and_near_zero_confirm_it() -> None:
    world = monitored_world()
    world.book.record_utilities(UNIT, "2026-09", Decimal("0.2"), Decimal("3.5"))
    found = vacancy(world, START + timedelta(days=35))
    assert found.triggered and "near zero" in found.explanation
    world.book.record_utilities(UNIT, "2026-10", Decimal("6.0"), Decimal("140"))
    used = vacancy(world, START + timedelta(days=35))
    assert not used.triggered and "in use" in used.explanation
    assert 0 < used.score < found.score


def test_a_single_tenant_on_a_long_hospital_stay_is_excused() -> None:
    world = monitored_world()
    member = world.households[UNIT].members[0]
    world.enrol("c-1", member)
    world.open_door(UNIT, "c-1", local(START, 8))
    world.excuse(UNIT, member, START + timedelta(days=3), START + timedelta(days=60))
    found = vacancy(world, START + timedelta(days=58))
    assert not found.triggered
    assert dict(found.evidence)["excused_days"] == "56"
    # After discharge the clock runs again: 2 unexcused days before, 30 needed in all.
    assert vacancy(world, START + timedelta(days=88)).triggered


def test_one_members_hospital_stay_does_not_excuse_the_others_absence() -> None:
    world = monitored_world(members=2)
    patient = world.households[UNIT].members[0]
    world.excuse(UNIT, patient, START, START + timedelta(days=90))
    found = vacancy(world, START + timedelta(days=31))
    assert found.triggered and dict(found.evidence)["excused_days"] == "0"


def test_night_shift_worker_is_present_and_not_a_stranger() -> None:
    """In at 07:30 after the shift, out at 21:30: every opening is a member's, on the right local day
    (07:30 in Foshan is 23:30 UTC the day before)."""
    world = monitored_world()
    member = world.households[UNIT].members[0]
    world.enrol("night", member)
    for day in days(START, 45):
        world.open_door(UNIT, "night", local(day, 7, 30))
        world.open_door(UNIT, "night", local(day, 21, 30))
    as_of = START + timedelta(days=44)
    assert world.book.units[UNIT].last_member_day == as_of.toordinal()
    assert not vacancy(world, as_of).triggered
    sublet = assess_sublet(world.book.units[UNIT], as_of.toordinal(), None, PARAMS)
    assert not sublet.triggered
    assert dict(sublet.evidence)["openings_by_members"] == "60"  # 30-day window, two a day


def test_sublet_when_most_openings_are_by_unregistered_credentials() -> None:
    world = monitored_world()
    member = world.households[UNIT].members[0]
    world.enrol("c-1", member)
    for i, day in enumerate(days(START, 30)):
        world.open_door(UNIT, "tenant-a", local(day, 19))
        world.open_door(UNIT, "tenant-b" if i % 2 else "tenant-a", local(day, 8))
        if i % 10 == 0:
            world.open_door(UNIT, "c-1", local(day, 12))  # the household drops by to collect the rent
    as_of = (START + timedelta(days=29)).toordinal()
    found = assess_sublet(world.book.units[UNIT], as_of, None, PARAMS)
    assert found.triggered and "other people" in found.explanation
    evidence = dict(found.evidence)
    assert evidence["openings_by_others"] == "60" and evidence["openings_by_members"] == "3"
    masked = f"card:…{card('tenant-a')[-6:]}"
    assert any(label == "other_credential" and masked in value for label, value in found.evidence)
    assert not any("tenant" in value for _, value in found.evidence)  # never the token itself
    assert "tenant-a" not in found.explanation  # tokens are masked in what inspectors read


def test_too_few_openings_is_not_evidence() -> None:
    world = monitored_world()
    for day in days(START, 5):
        world.open_door(UNIT, "guest", local(day, 19))
    found = assess_sublet(world.book.units[UNIT], (START + timedelta(days=5)).toordinal(), None, PARAMS)
    assert not found.triggered


def test_lending_when_members_are_seen_mostly_at_another_unit() -> None:
    world = monitored_world()
    member = world.households[UNIT].members[0]
    world.enrol("c-1", member)
    for i, day in enumerate(days(START, 30)):
        world.open_door(OTHER_UNIT, "c-1", local(day, 18))
        if i % 6 == 0:
            world.open_door(UNIT, "c-1", local(day, 10))
    found = assess_sublet(world.book.units[UNIT], (START + timedelta(days=29)).toordinal(), None, PARAMS)
    assert found.triggered and "mostly elsewhere" in found.explanation
    assert dict(found.evidence)["member_openings_elsewhere"] == "30"


def test_evidence_before_a_closed_warning_is_not_used_again() -> None:
    world = monitored_world()
    for day in days(START, 30):
        world.open_door(UNIT, "tenant", local(day, 19))
    as_of = (START + timedelta(days=29)).toordinal()
    closed = START + timedelta(days=20)
    assert assess_sublet(world.book.units[UNIT], as_of, None, PARAMS).triggered
    assert not assess_sublet(world.book.units[UNIT], as_of, closed.toordinal(), PARAMS).triggered
    assert not vacancy(world, START + timedelta(days=45), since=closed).triggered


def test_risk_score_combines_detectors() -> None:
    world = monitored_world()
    for day in days(START, 30):
        world.open_door(UNIT, "tenant", local(day, 19))
    as_of = START + timedelta(days=29)
    assessments = [
        vacancy(world, as_of),
        assess_sublet(world.book.units[UNIT], as_of.toordinal(), None, PARAMS),
    ]
    score = risk_score(assessments)
    assert 95 <= score <= 100
    assert risk_score([]) == 0


def test_book_checkpoint_round_trips_and_prunes() -> None:
    world = monitored_world()
    for day in days(START, 200):
        world.open_door(UNIT, "tenant", local(day, 19))
    world.book.record_utilities(UNIT, "2026-09", Decimal("0.200"), None)
    world.book.prune()
    assert len(world.book.units[UNIT].days) <= 121
    copy = World().book
    copy.load_json(world.book.to_json())
    assert copy.units == world.book.units
    assert copy.first_day == world.book.first_day and copy.watermark == world.book.watermark


def _sublet_pattern(world: World, strangers_per_day: int = 1) -> int:
    """Twenty evenings of strangers and a member every other day: suspicious, not conclusive."""
    member = world.households[UNIT].members[0]
    world.enrol("c-1", member)
    for i, day in enumerate(days(START, 20)):
        for _ in range(strangers_per_day):
            world.open_door(UNIT, "guest", local(day, 19))
        if i % 2 == 0:
            world.open_door(UNIT, "c-1", local(day, 8))
    return (START + timedelta(days=19)).toordinal()


def _record(world: World, actual: str, described_on: date, reference: str = "PS-1") -> None:
    view = world.register.households[world.register.by_unit[UNIT]]
    view.region = "CN-FS"
    view.facts[("public_security", reference)] = RegistrationRecord(
        "public_security", reference, "registration", described_on, "CN-FS", actual
    )


def test_a_registration_record_elsewhere_weighs_on_the_sublet_score_as_set() -> None:
    world = monitored_world()
    as_of = _sublet_pattern(world)
    household = world.register.households[world.register.by_unit[UNIT]]
    plain = assess_sublet(world.book.units[UNIT], as_of, None, PARAMS)
    assert registration_lead(household, as_of, PARAMS) is None

    _record(world, "CN-GZ", START)
    lead = registration_lead(household, as_of, PARAMS)
    assert lead is not None and lead.elsewhere
    weighed = assess_sublet(world.book.units[UNIT], as_of, None, PARAMS, lead=lead)
    assert weighed.score == 1 - (1 - plain.score) * (1 - PARAMS.registration_weight)
    assert weighed.triggered == plain.triggered  # a lead ranks a warning; door data still raise it
    assert "live elsewhere" in weighed.explanation
    assert dict(weighed.evidence)["registration_lead"].startswith("weighted 30%")
    heavier = DetectorParams(registration_weight=0.6)
    assert assess_sublet(world.book.units[UNIT], as_of, None, heavier, lead=lead).score > weighed.score

    # A later record puts them back in the flat's city: no weight any more.
    _record(world, "CN-FS", START + timedelta(days=5), reference="PS-2")
    home = registration_lead(household, as_of, PARAMS)
    assert home is not None and not home.elsewhere
    assert assess_sublet(world.book.units[UNIT], as_of, None, PARAMS, lead=home).score == plain.score


def test_an_old_registration_record_is_not_weighed() -> None:
    world = monitored_world()
    as_of = _sublet_pattern(world)
    household = world.register.households[world.register.by_unit[UNIT]]
    _record(world, "CN-GZ", date.fromordinal(as_of - PARAMS.registration_max_age_days - 1))
    assert registration_lead(household, as_of, PARAMS) is None
    _record(world, "CN-GZ", date.fromordinal(as_of - PARAMS.registration_max_age_days), reference="PS-2")
    assert registration_lead(household, as_of, PARAMS) is not None


def test_a_flat_let_again_is_judged_on_its_new_tenancy_only() -> None:
    world = monitored_world()
    for day in days(START, 30):
        world.open_door(UNIT, "tenant", local(day, 19))
    as_of = (START + timedelta(days=29)).toordinal()
    assert assess_sublet(world.book.units[UNIT], as_of, None, PARAMS).triggered
    new_tenancy = (START + timedelta(days=25)).toordinal()
    assert not assess_sublet(world.book.units[UNIT], as_of, None, PARAMS, tenancy_start=new_tenancy).triggered
