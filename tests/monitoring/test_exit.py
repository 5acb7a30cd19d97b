"""The end of monitoring and what eligibility tells it, in the store (SQLite and PostgreSQL): an exit
withdraws the household's warnings and leaves its flat unlet; a transition is still monitored, with
its decision shown; department records weigh on the sublet score and appear in the evidence; the
household's timeline and the figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from contracts.monitoring import OccupancyWarningWithdrawn
from contracts.penalties import ExitCompleted
from services.kit.timeline import timeline
from services.kit.uow import UnitOfWork
from services.monitoring.domain import TransitionError, UnitWatch
from services.monitoring.errors import NotFound
from services.monitoring.handlers import translate, withdrawn_payload
from services.monitoring.timeline import describe
from tests.contracts.samples_monitoring import DECLARED
from tests.monitoring.support import START, UNIT, days, door_signal, local
from tests.monitoring.test_warnings import Scene, registration

HANDED_BACK = START + timedelta(days=40)


def exit_of(household: UUID, on: date = HANDED_BACK) -> ExitCompleted:
    return ExitCompleted(
        household_id=household,
        estate=UNIT.estate,
        building=UNIT.building,
        unit=UNIT.unit,
        completed_on=on,
        how="keys_returned",
        recorded_by="officer.li",
    )


def handle(scene: Scene, call):  # type: ignore[no-untyped-def]
    """Run an inbox handler's call in a unit of work and commit it, as the inbox does."""
    uow = UnitOfWork(scene.app)
    result = call(uow)
    uow.commit(None)
    scene.app.catch_up()
    return result


@pytest.fixture
def scene(tmp_path: Path, persistence: dict[str, str]) -> Iterator[Scene]:
    s = Scene(tmp_path, persistence)
    s.register()
    yield s
    s.app.close()


def test_an_exit_withdraws_open_warnings_and_leaves_the_flat_unlet(scene: Scene) -> None:
    scene.strangers(START, 30)
    (sublet,) = scene.app.detect()
    scene.app.assign(sublet, "inspector.wu", scene.at(START + timedelta(days=31)))
    before = scene.app.notification_log.select(start=1, limit=1000)[-1].id

    withdrawn = handle(scene, lambda uow: scene.app.on_exit_completed(uow, exit_of(scene.household)))

    assert withdrawn == [sublet]
    detail = scene.app.warning(sublet)
    assert (detail["status"], detail["closed_on"], detail["household_status"]) == (
        "withdrawn",
        HANDED_BACK.isoformat(),
        "exited",
    )
    assert scene.app.open_warnings() == []
    watch: UnitWatch = scene.app.repository.get(UnitWatch.create_id(*UNIT))
    assert watch.open == {} and watch.closed_on["sublet_or_lend"] == HANDED_BACK
    register = scene.app.register
    assert UNIT not in register.by_unit and UNIT in register.unlet()
    assert not set(scene.members) & register.member_household.keys()
    with pytest.raises(TransitionError):  # closed: no inspector step follows a withdrawal
        scene.app.dismiss(sublet, "inspector.wu", "too late", scene.at(HANDED_BACK))

    # The same exit again (a redelivery under another message id) changes nothing.
    assert handle(scene, lambda uow: scene.app.on_exit_completed(uow, exit_of(scene.household))) == []

    # Signals at the empty flat are counted, not refused, and no detector judges it: no vacancy for
    # a flat nobody rents, no sublet for the strangers (a locksmith, the next viewing).
    touched, rejected = scene.signals(
        [door_signal(UNIT, "locksmith", local(day, 11)) for day in days(HANDED_BACK, 45)]
    )
    assert (touched, rejected) == (set(), [])
    assert scene.app.detect() == []
    assert scene.app.detect(as_of=(HANDED_BACK + timedelta(days=90)).toordinal()) == []
    occupancy = scene.app.occupancy(UNIT, days=45)
    assert (occupancy["status"], occupancy["household_id"], occupancy["assessments"]) == ("unlet", None, [])
    assert sum(d["other_openings"] for d in occupancy["days"]) == 45
    with pytest.raises(NotFound):  # the old member's cards open no door of theirs any more
        scene.app.enrol_credential("card", "c-9", scene.members[0])

    # What the relay makes of the withdrawal: the contract payload, published.
    (event,) = [
        scene.app.mapper.to_domain_event(n)
        for n in scene.app.notification_log.select(start=before + 1, limit=100)
        if n.topic.endswith("OccupancyWarning.Withdrawn")
    ]
    payload = withdrawn_payload(event)
    assert payload == OccupancyWarningWithdrawn(
        household_id=scene.household,
        warning_id=sublet,
        withdrawn_on=HANDED_BACK,
        reason="household_exited",
        previous_status="assigned",
    )
    assert set(DECLARED["housing.monitoring.warning-withdrawn"]) == set(payload.model_dump())
    published = [o.spec.name for o in translate(event)]
    assert published == ["warning-withdrawn"]


def test_a_flat_let_again_is_watched_for_its_new_household_only(scene: Scene) -> None:
    scene.strangers(START, 30)
    (old_warning,) = scene.app.detect()
    handle(scene, lambda uow: scene.app.on_exit_completed(uow, exit_of(scene.household)))
    newcomer, member = uuid4(), uuid4()
    let_again = registration(newcomer, [member]).model_copy(
        update={"tenancy_start": HANDED_BACK + timedelta(days=10)}
    )
    handle(scene, lambda uow: scene.app.on_household_registered(uow, let_again))
    assert scene.app.register.by_unit[UNIT] == newcomer and not scene.app.register.unlet()
    scene.app.enrol_credential("card", "n-1", member)
    first = HANDED_BACK + timedelta(days=10)
    # The new household comes home every evening; the old one's card still opens the door at times.
    scene.signals([door_signal(UNIT, "n-1", local(day, 19)) for day in days(first, 30)])
    scene.signals([door_signal(UNIT, "c-1", local(day, 9)) for day in days(first, 30, step=5)])
    assert scene.app.detect() == []
    occupancy = scene.app.occupancy(UNIT)
    assert occupancy["household_id"] == str(newcomer) and occupancy["status"] == "let"
    assert scene.app.warning(old_warning)["status"] == "withdrawn"


def test_news_that_arrives_before_the_registration_is_kept_for_it(scene: Scene) -> None:
    """Exits (PENALTIES) and department records (DEPARTMENT) come on other streams than the
    registration (ELIGIBILITY): whichever inbox runs first, the household ends up the same."""
    late, early = uuid4(), uuid4()
    assert handle(scene, lambda uow: scene.app.on_exit_completed(uow, exit_of(late))) == []
    record = ("public_security", "PS-9", "registration", START, "CN-FS", "CN-ZS")
    assert not handle(scene, lambda uow: scene.app.on_fact(uow, early, *record))
    assert not handle(scene, lambda uow: scene.app.on_fact(uow, early, *record))  # redelivered
    assert late not in scene.app.register.households and early not in scene.app.register.households

    handle(scene, lambda uow: scene.app.on_household_registered(uow, registration(late, [uuid4()], "0808")))
    handle(scene, lambda uow: scene.app.on_household_registered(uow, registration(early, [uuid4()], "0909")))
    view = scene.app.register.households[late]
    assert view.status == "exited" and view.exited_on == HANDED_BACK
    assert all(household != late for household in scene.app.register.by_unit.values())
    assert scene.app.household(late)["status"] == "exited"
    (kept,) = scene.app.household(early)["records"]
    assert (kept["reference"], kept["actual_residence_city"]) == ("PS-9", "CN-ZS")
    assert scene.app.household(early)["status"] == "monitored"


def test_a_household_in_transition_is_still_monitored_with_its_decision_shown(scene: Scene) -> None:
    decided = START + timedelta(days=5)
    assert handle(
        scene,
        lambda uow: scene.app.on_decision(uow, scene.household, "exit_decided", "transition", decided),
    )
    assert not handle(scene, lambda uow: scene.app.on_decision(uow, uuid4(), "exit_decided", "exit", decided))
    scene.strangers(START, 30)
    (warning_id,) = scene.app.detect()  # still monitored: a sublet during the transition is a sublet
    (listed,) = scene.app.open_warnings()
    expected = {"source": "exit_decided", "outcome": "transition", "decided_on": decided.isoformat()}
    assert listed["household_status"] == "exit_decided"
    assert listed["exit_decision"] == {**expected, "overturned": False}
    evidence = {e["label"]: e["value"] for e in scene.app.warning(warning_id)["evidence"]}
    assert evidence["exit_decided"] == f"transition on {decided.isoformat()}"

    # The household appealed and was kept: the exit is no longer in force.
    resolved = START + timedelta(days=35)
    handle(
        scene,
        lambda uow: scene.app.on_decision(uow, scene.household, "appeal_resolved", "retain", resolved, True),
    )
    household = scene.app.household(scene.household)
    assert household["status"] == "monitored" and household["exit_decision"] is None
    assert [d["source"] for d in household["decisions"]] == ["exit_decided", "appeal_resolved"]


def test_registration_records_weigh_on_the_next_sublet_detection(scene: Scene) -> None:
    scene.strangers(START, 30)
    as_of = (START + timedelta(days=29)).toordinal()
    plain = scene.app.assess(UNIT, as_of)
    noted = START + timedelta(days=20)
    # Eligibility's fact-recorded: which record, no values: evidence, no weight.
    assert handle(
        scene,
        lambda uow: scene.app.on_fact(
            uow, scene.household, "public_security", "PS-77", "registration", noted
        ),
    )
    assert scene.app.assess(UNIT, as_of)[1] == plain[1]
    # The department's own report of the same record: members actually live in Guangzhou.
    assert handle(
        scene,
        lambda uow: scene.app.on_fact(
            uow, scene.household, "public_security", "PS-77", "registration", noted, "CN-FS", "CN-GZ"
        ),
    )
    handle(  # a redelivery adds nothing
        scene,
        lambda uow: scene.app.on_fact(
            uow, scene.household, "public_security", "PS-77", "registration", noted, "CN-FS", "CN-GZ"
        ),
    )
    (assessments, score) = scene.app.assess(UNIT, as_of)
    sublet_before = next(a for a in plain[0] if a.condition == "sublet_or_lend")
    sublet_after = next(a for a in assessments if a.condition == "sublet_or_lend")
    weight = scene.settings.registration_elsewhere_weight
    assert sublet_after.score == pytest.approx(1 - (1 - sublet_before.score) * (1 - weight))
    assert score >= plain[1]
    (warning_id,) = scene.app.detect(as_of=as_of)
    evidence = {e["label"]: e["value"] for e in scene.app.warning(warning_id)["evidence"]}
    assert "actual residence CN-GZ" in evidence["registration_record"]
    assert evidence["registration_lead"].startswith("weighted 30%")
    records = scene.app.household(scene.household)["records"]
    assert records == [
        {
            "department": "public_security",
            "reference": "PS-77",
            "kind": "registration",
            "described_on": noted.isoformat(),
            "hukou_city": "CN-FS",
            "actual_residence_city": "CN-GZ",
        }
    ]


def test_the_timeline_and_the_figures(scene: Scene) -> None:
    scene.strangers(START, 30)
    (warning_id,) = scene.app.detect()
    scene.app.assign(warning_id, "inspector.wu", scene.at(START + timedelta(days=31)))
    scene.app.confirm(
        warning_id, "inspector.wu", "sublet", scene.at(START + timedelta(days=32)), "sub-tenant"
    )
    handle(
        scene,
        lambda uow: scene.app.on_decision(
            uow, scene.household, "exit_decided", "exit", START + timedelta(days=33)
        ),
    )
    handle(scene, lambda uow: scene.app.on_exit_completed(uow, exit_of(scene.household)))

    entries = timeline(scene.app, scene.app.household_aggregates(scene.household), describe)
    kinds = [e.type for e in entries]
    assert kinds[0] == "Household.Registered" and "Credential.Enrolled" in kinds
    for step in (
        "OccupancyWarning.Raised",
        "OccupancyWarning.Assigned",
        "OccupancyWarning.Confirmed",
        "Household.DecisionRecorded",
        "Household.Exited",
        "OccupancyWarning.Withdrawn",
    ):
        assert step in kinds, step
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    confirmed = entries[kinds.index("OccupancyWarning.Confirmed")]
    assert confirmed.actor == "inspector.wu" and "sublet" in confirmed.summary
    exited = entries[kinds.index("Household.Exited")]
    assert exited.actor == "officer.li" and all(e.service == "monitoring" for e in entries)
    text = " ".join(e.summary + e.reason for e in entries)
    assert "c-1" not in text and str(scene.members[0]) not in text  # no credential, no member id
    assert timeline(scene.app, scene.app.household_aggregates(uuid4()), describe) == []

    figures = scene.app.figures()
    assert figures["warnings_by_state"] == {"withdrawn": 1}
    assert figures["warnings_by_condition"] == {"sublet_or_lend": 1}
    assert figures["warnings_by_state_and_condition"] == {"withdrawn": {"sublet_or_lend": 1}}
    assert figures["open_warnings_by_condition"] == {}
    assert figures["violations_confirmed_by_kind"] == {"sublet": 1}
    assert (figures["flats_monitored"], figures["flats_unlet"], figures["households_exited"]) == (0, 1, 1)
    assert figures["signals_ingested"] == 33 and figures["signals_refused"] == 0


def test_a_record_and_a_registration_that_race_collide_and_neither_is_lost(scene: Scene) -> None:
    """Two inboxes, two threads: each reads, then commits. Whichever commits second is refused by the
    store and handled again, as the inbox does, and then sees what the first one did."""
    record = ("public_security", "PS-5", "registration", START, "CN-FS", "CN-GZ")

    racing, member = uuid4(), uuid4()
    fact = UnitOfWork(scene.app)
    assert not scene.app.on_fact(fact, racing, *record)  # no household yet: to be kept
    handle(scene, lambda uow: scene.app.on_household_registered(uow, registration(racing, [member], "0707")))
    with pytest.raises(IntegrityError):
        fact.commit(None)
    assert handle(scene, lambda uow: scene.app.on_fact(uow, racing, *record))  # handled again
    assert [r["reference"] for r in scene.app.household(racing)["records"]] == ["PS-5"]

    other = uuid4()
    registering = UnitOfWork(scene.app)
    scene.app.on_household_registered(registering, registration(other, [uuid4()], "0606"))
    assert not handle(scene, lambda uow: scene.app.on_fact(uow, other, *record))  # kept first
    with pytest.raises(IntegrityError):
        registering.commit(None)
    handle(scene, lambda uow: scene.app.on_household_registered(uow, registration(other, [uuid4()], "0606")))
    assert [r["reference"] for r in scene.app.household(other)["records"]] == ["PS-5"]


def test_a_warning_raised_while_the_exit_is_handled_is_withdrawn_too(scene: Scene) -> None:
    """Detection and the PENALTIES inbox run in different threads: a warning saved between the exit
    handler's read and its commit makes the commit collide (both write the unit's watch), and the
    exit, handled again, withdraws it."""
    scene.strangers(START, 30)
    exiting = UnitOfWork(scene.app)
    assert scene.app.on_exit_completed(exiting, exit_of(scene.household)) == []  # nothing open yet
    (raised,) = scene.app.detect()  # …and now there is
    with pytest.raises(IntegrityError):
        exiting.commit(None)
    assert handle(scene, lambda uow: scene.app.on_exit_completed(uow, exit_of(scene.household))) == [raised]
    assert scene.app.warning(raised)["status"] == "withdrawn"
    watch: UnitWatch = scene.app.repository.get(UnitWatch.create_id(*UNIT))
    assert watch.closed_on == {"vacancy": HANDED_BACK, "sublet_or_lend": HANDED_BACK}
