"""The penalties application on SQLite and PostgreSQL: the subsidy exactly once under redelivery and
concurrency, sanctions and their basis, appeals suspending a surcharge, eligibility appeals holding a
plan, overstaying, repossession, the end of a tenancy, and notices."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from services.penalties.application import NotFound, OutsideWindow, PenaltiesApp
from services.penalties.domain import BasisError, RuleError, Subsidy
from tests.penalties.support import (
    OFFICER,
    SECOND_SUPERVISOR,
    SUPERVISOR,
    clock_of,
    eligibility_appeal,
    eligibility_appeal_resolved,
    exit_decision,
    feed,
    make_app,
    move_to,
    rectified,
    registered_household,
    violation,
)


@pytest.fixture
def app(tmp_path: Path, persistence: dict[str, str]) -> Any:
    application = make_app(tmp_path, persistence)
    yield application
    application.close()


def stored_types(app: PenaltiesApp) -> list[str]:
    return [
        type(app.mapper.to_domain_event(n)).__qualname__
        for n in app.process_recorder.select_notifications(start=1, limit=100_000)
    ]


def totals(app: PenaltiesApp, household_id: UUID, first: date, last: date) -> list[str]:
    return [m["total_due"] for m in app.ledger(household_id, first, last)["months"]]


def test_subsidy_is_awarded_once_under_redelivery_and_concurrent_requests(
    app: PenaltiesApp, tmp_path: Path, persistence: dict[str, str]
) -> None:
    household_id = registered_household(app)
    decided = exit_decision(household_id, "voluntary", low_income=True)
    # The same decision delivered again, and again under another message: one award.
    feed(app, "on_exit_decided", decided)
    feed(app, "on_exit_decided", decided)
    feed(app, "on_exit_decided", decided.model_copy(update={"decided_on": date(2027, 1, 16)}))
    assert app.household_subsidy(household_id) is not None
    assert stored_types(app).count("Subsidy.Awarded") == 1

    # A second household, twelve concurrent applications through two application instances (two
    # processes' caches) on the same store: the store refuses every creation but one.
    other = registered_household(app)
    feed(app, "on_exit_decided", exit_decision(other, "transition", low_income=True))
    move_to(app, date(2027, 2, 1))
    second = make_app(tmp_path, persistence, clock=clock_of(app))  # one process clock
    try:
        barrier = threading.Barrier(12)
        results: list[dict[str, Any]] = []
        errors: list[BaseException] = []

        def apply(instance: PenaltiesApp) -> None:
            barrier.wait()
            try:
                results.append(instance.apply_voluntarily(other, OFFICER))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=apply, args=(app if i % 2 else second,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert len({r["subsidy"]["subsidy_id"] for r in results}) == 1
        assert {r["subsidy"]["amount"] for r in results} == {"5000.00"}
        events = list(app.recorder.select_events(Subsidy.create_id(other)))
        assert len(events) == 1
        assert stored_types(app).count("Subsidy.Awarded") == 2  # one per household
        assert stored_types(app).count("Tenancy.VoluntaryExitApplied") == 2
        notices = [n for n in app.household_notices(other) if n["kind"] == "subsidy_awarded"]
        assert len(notices) == 1 and notices[0]["amounts"] == [
            {"label": "one-time subsidy", "yuan": "5000.00"}
        ]

        # What makes it safe is the store itself: a second creation of the same id is refused.
        duplicate = Subsidy(
            other, app.table.policy("CN-FS", date(2027, 2, 1)).subsidy_amount, date(2027, 2, 1), "x", ""
        )
        with pytest.raises(IntegrityError):
            second.save(duplicate)
    finally:
        second.close()


def test_no_subsidy_for_a_household_that_is_not_low_income_and_purchase_help_is_flagged(
    app: PenaltiesApp,
) -> None:
    household_id = registered_household(app)
    feed(
        app, "on_exit_decided", exit_decision(household_id, "voluntary", low_income=False, wants_to_buy=True)
    )
    assert app.household_subsidy(household_id) is None
    types = stored_types(app)
    assert types.count("Tenancy.PurchaseHelpFlagged") == 1 and "Tenancy.VoluntaryExitApplied" in types
    move_to(app, date(2027, 2, 1))
    assert app.apply_voluntarily(household_id, OFFICER)["subsidy"] is None
    with pytest.raises(NotFound):
        app.apply_voluntarily(uuid4(), OFFICER)


def test_an_application_before_the_decision_gets_the_subsidy_when_eligibility_says_low_income(
    app: PenaltiesApp,
) -> None:
    household_id = registered_household(app)
    move_to(app, date(2027, 1, 5))
    assert app.apply_voluntarily(household_id, OFFICER)["subsidy"] is None
    feed(app, "on_exit_decided", exit_decision(household_id, "voluntary", low_income=True))
    subsidy = app.household_subsidy(household_id)
    assert subsidy is not None and subsidy["awarded_on"] == "2027-01-15"
    move_to(app, date(2027, 2, 1))
    assert app.apply_voluntarily(household_id, OFFICER)["subsidy"] == subsidy
    assert stored_types(app).count("Tenancy.VoluntaryExitApplied") == 1
    assert stored_types(app).count("Subsidy.Awarded") == 1


def test_a_warning_confirmed_again_as_another_violation_is_refused_and_the_first_stands(
    app: PenaltiesApp,
) -> None:
    household_id = registered_household(app)
    move_to(app, date(2027, 3, 11))
    confirmed = violation(household_id, "vacant")
    feed(app, "on_violation_confirmed", confirmed)
    feed(app, "on_violation_confirmed", confirmed)  # a redelivery changes nothing
    with pytest.raises(BasisError, match="confirmed 'vacant', not 'lend'"):
        feed(app, "on_violation_confirmed", confirmed.model_copy(update={"violation": "lend"}))
    sanctions = app.household_sanctions(household_id)
    assert [(s["kind"], s["violation"]) for s in sanctions] == [("rent_surcharge", "vacant")]


def test_a_sanction_needs_a_basis_penalties_has_seen(app: PenaltiesApp) -> None:
    household_id = registered_household(app)
    move_to(app, date(2027, 3, 11))
    with pytest.raises(BasisError):
        app.impose(household_id, "credit_list", "sublet", uuid4(), OFFICER)
    confirmed = violation(household_id, "sublet")
    feed(app, "on_violation_confirmed", confirmed)
    with pytest.raises(BasisError):  # the warning confirmed subletting, not vacancy
        app.impose(household_id, "credit_list", "vacant", confirmed.warning_id, OFFICER)
    proposed, created = app.impose(
        household_id, "credit_list", "sublet", confirmed.warning_id, OFFICER, "second offence"
    )
    assert created and proposed["basis_kind"] == "warning" and proposed["state"] == "proposed"
    assert not proposed["in_force"] and proposed["ends_on"] is None
    entry = app.enter_credit_list(UUID(proposed["sanction_id"]), SUPERVISOR, role="supervisor")
    assert entry["state"] == "active" and entry["ends_on"] == "2032-03-09" and entry["in_force"]
    move_to(app, date(2027, 3, 12))
    again, created = app.impose(household_id, "credit_list", "sublet", confirmed.warning_id, OFFICER)
    assert not created and again["sanction_id"] == entry["sanction_id"]

    # Concealed income rests on an exit decision's review that penalties received.
    with pytest.raises(BasisError):
        app.impose(household_id, "rent_surcharge", "concealed_income", uuid4(), OFFICER)
    decided = exit_decision(household_id, "exit")
    feed(app, "on_exit_decided", decided)
    with pytest.raises(BasisError):
        app.impose(household_id, "rent_surcharge", "sublet", decided.review_id, OFFICER)
    surcharge, _ = app.impose(household_id, "rent_surcharge", "concealed_income", decided.review_id, OFFICER)
    assert surcharge["basis_kind"] == "review" and surcharge["surcharge_rate"] == "0.50"
    # The violation's automatic surcharge from April, the concealed-income one from April too.
    assert totals(app, household_id, date(2027, 3, 1), date(2027, 4, 1)) == ["1000.00", "2000.00"]

    # Removal on rectification: the warning's credit-list entry and surcharge end, the other stays.
    feed(app, "on_warning_rectified", rectified(household_id, confirmed.warning_id, date(2027, 5, 20)))
    states = {(s["kind"], s["violation"]): s["state"] for s in app.household_sanctions(household_id)}
    assert states == {
        ("rent_surcharge", "sublet"): "lifted",
        ("credit_list", "sublet"): "lifted",
        ("rent_surcharge", "concealed_income"): "active",
    }
    assert totals(app, household_id, date(2027, 5, 1), date(2027, 6, 1)) == ["2000.00", "1500.00"]


def test_an_open_appeal_suspends_the_surcharge_and_its_outcome_decides(app: PenaltiesApp) -> None:
    household_id = registered_household(app)
    other = registered_household(app)
    feed(app, "on_violation_confirmed", violation(household_id, "vacant", date(2027, 3, 10)))
    feed(app, "on_violation_confirmed", violation(other, "lend", date(2027, 3, 10)))
    (surcharge,) = app.household_sanctions(household_id)
    (sanction,) = app.household_sanctions(other)
    assert surcharge["appeal_until"] == "2027-04-09"
    move_to(app, date(2027, 3, 20))
    lodged = app.lodge_appeal(
        UUID(sanction["sanction_id"]), "a relative cared for it", "hh", role="household"
    )
    move_to(app, date(2027, 4, 2))
    appeal = app.lodge_appeal(
        UUID(surcharge["sanction_id"]), "we were in hospital", "household", role="household"
    )
    move_to(app, date(2027, 4, 3))
    with pytest.raises(RuleError):  # one open appeal per sanction
        app.lodge_appeal(UUID(surcharge["sanction_id"]), "again", "household", role="household")
    move_to(app, date(2027, 4, 10))
    with pytest.raises(OutsideWindow):
        app.lodge_appeal(UUID(surcharge["sanction_id"]), "too late", "household", role="household")
    statement = app.ledger(household_id, date(2027, 4, 1), date(2027, 5, 1))["months"]
    assert [m["total_due"] for m in statement] == ["1000.00", "1000.00"]
    assert [m["adjustments"][0]["status"] for m in statement] == ["suspended", "suspended"]
    suspended = app.household_sanctions(household_id)[0]
    assert suspended["suspended_by_appeal"] == appeal["appeal_id"] and not suspended["in_force"]
    assert [a["appeal_id"] for a in app.list_appeals("open")] == [lodged["appeal_id"], appeal["appeal_id"]]

    # Another household's appeal upheld: the surcharge is withdrawn from its start.
    move_to(app, date(2027, 4, 20))
    app.resolve_appeal(UUID(lodged["appeal_id"]), "upheld", SUPERVISOR, "evidence", role="supervisor")

    # Dismissed: the surcharge runs again, the suspended months included.
    move_to(app, date(2027, 5, 15))
    app.resolve_appeal(UUID(appeal["appeal_id"]), "dismissed", SUPERVISOR, role="supervisor")
    assert totals(app, household_id, date(2027, 4, 1), date(2027, 5, 1)) == ["1500.00", "1500.00"]
    move_to(app, date(2027, 5, 16))
    with pytest.raises(RuleError):
        app.resolve_appeal(UUID(appeal["appeal_id"]), "upheld", SUPERVISOR, role="supervisor")
    (resumed,) = app.household_sanctions(household_id)
    assert resumed["state"] == "active" and resumed["appeals"] == [appeal["appeal_id"]]

    assert totals(app, other, date(2027, 4, 1), date(2027, 5, 1)) == ["1000.00", "1000.00"]
    (withdrawn,) = app.household_sanctions(other)
    assert withdrawn["state"] == "withdrawn" and withdrawn["suspended_by_appeal"] is None
    kinds = [n["kind"] for n in app.household_notices(other)]
    assert kinds == ["sanction_imposed", "appeal_received", "sanction_withdrawn", "appeal_decided"]


def test_an_eligibility_appeal_holds_the_plan_and_an_overturn_withdraws_it(app: PenaltiesApp) -> None:
    household_id = registered_household(app)
    feed(app, "on_exit_decided", exit_decision(household_id, "transition"))
    case_id = uuid4()
    feed(app, "on_eligibility_appeal_lodged", eligibility_appeal(household_id, case_id, date(2027, 3, 5)))
    assert totals(app, household_id, date(2027, 2, 1), date(2027, 4, 1)) == ["1100.00", "1000.00", "1000.00"]
    move_to(app, date(2027, 9, 1))
    assert app.overdue_check() == []  # a held plan is not overdue
    feed(
        app,
        "on_eligibility_appeal_resolved",
        eligibility_appeal_resolved(household_id, case_id, date(2027, 4, 10), "retain", overturned=True),
    )
    assert totals(app, household_id, date(2027, 2, 1), date(2027, 4, 1)) == ["1000.00"] * 3
    assert [t["state"] for t in app.list_transitions(None)] == ["withdrawn"]
    assert app.overdue_check() == []
    kinds = [n["kind"] for n in app.household_notices(household_id)]
    assert kinds == ["transition_started", "increases_suspended", "transition_withdrawn"]

    # Confirmed on appeal instead: the suspended increases are due again, and the plan can be overdue.
    other = registered_household(app)
    feed(app, "on_exit_decided", exit_decision(other, "transition"))
    case_id = uuid4()
    feed(app, "on_eligibility_appeal_lodged", eligibility_appeal(other, case_id, date(2027, 3, 5)))
    feed(
        app,
        "on_eligibility_appeal_resolved",
        eligibility_appeal_resolved(other, case_id, date(2027, 4, 10), "transition", overturned=False),
    )
    assert totals(app, other, date(2027, 2, 1), date(2027, 4, 1)) == ["1100.00", "1200.00", "1300.00"]
    assert [n["kind"] for n in app.household_notices(other)][-1] == "increases_resumed"
    assert len(app.overdue_check()) == 1


def test_overdue_plan_becomes_an_overstaying_violation_and_keys_returned_close_the_ledger(
    app: PenaltiesApp,
) -> None:
    household_id = registered_household(app)
    feed(app, "on_exit_decided", exit_decision(household_id, "transition", decided_on=date(2027, 1, 15)))
    move_to(app, date(2027, 7, 31))
    assert app.overdue_check() == []  # the last day is still in time
    move_to(app, date(2027, 8, 1))
    (sanction_id,) = app.overdue_check()
    move_to(app, date(2027, 8, 2))
    assert app.overdue_check() == []
    (plan,) = app.list_transitions("overdue")
    (sanction,) = app.household_sanctions(household_id)
    assert (sanction["violation"], sanction["basis_kind"], sanction["basis_id"]) == (
        "overstaying",
        "transition",
        plan["transition_id"],
    )
    assert sanction["sanction_id"] == str(sanction_id)
    # August: the plan's last step (1600) stays; September adds the +50 % surcharge on the base.
    assert totals(app, household_id, date(2027, 7, 1), date(2027, 9, 1)) == ["1600.00", "1600.00", "2100.00"]

    # Repossession on the overstaying basis: issued → served → executed only after the deadline.
    move_to(app, date(2027, 8, 5))
    order, _ = app.impose(household_id, "repossession", "overstaying", UUID(plan["transition_id"]), OFFICER)
    order_id = UUID(order["sanction_id"])
    move_to(app, date(2027, 8, 6))
    with pytest.raises(RuleError):
        app.execute_repossession(order_id, SUPERVISOR, role="supervisor")
    served = app.serve_repossession(order_id, OFFICER)
    assert served["state"] == "notice_served" and served["deadline"] == "2027-09-05"
    move_to(app, date(2027, 9, 3))
    with pytest.raises(RuleError):
        app.propose_execution(order_id, OFFICER, role="reviewer")
    # The household hands the keys back first: the order is withdrawn, the ledger closes in September.
    app.record_keys_returned(household_id, OFFICER)
    move_to(app, date(2027, 9, 4))
    with pytest.raises(RuleError):
        app.record_keys_returned(household_id, OFFICER)
    ledger = app.ledger(household_id, None, None)
    assert ledger["months"][-1]["month"] == "2027-09" and ledger["exited"]["how"] == "keys_returned"
    assert totals(app, household_id, date(2027, 10, 1), date(2027, 10, 1)) == ["1000.00"]
    states = {s["kind"]: s["state"] for s in app.household_sanctions(household_id)}
    assert states == {"repossession": "withdrawn", "rent_surcharge": "lifted"}
    assert stored_types(app).count("Tenancy.ExitCompleted") == 1
    assert app.figures()["exits_completed"] == {"keys_returned": 1}


def test_repossession_executed_completes_the_exit(app: PenaltiesApp) -> None:
    household_id = registered_household(app)
    confirmed = violation(household_id, "sublet", date(2027, 3, 10))
    feed(app, "on_violation_confirmed", confirmed)
    move_to(app, date(2027, 3, 12))
    order, _ = app.impose(household_id, "repossession", "sublet", confirmed.warning_id, OFFICER)
    order_id = UUID(order["sanction_id"])
    app.serve_repossession(order_id, OFFICER)
    move_to(app, date(2027, 3, 20))
    appeal = app.lodge_appeal(order_id, "contested", "household", role="household")
    move_to(app, date(2027, 4, 20))
    with pytest.raises(RuleError):  # an open appeal blocks the execution
        app.propose_execution(order_id, OFFICER, role="reviewer")
    app.resolve_appeal(UUID(appeal["appeal_id"]), "dismissed", SUPERVISOR, role="supervisor")
    proposed = app.propose_execution(order_id, OFFICER, role="reviewer")  # a reviewer prepares it
    assert proposed["state"] == "notice_served" and proposed["execution_proposed"]["by"] == OFFICER
    executed = app.execute_repossession(order_id, SECOND_SUPERVISOR, role="supervisor")
    assert executed["state"] == "executed"
    exited = app.ledger(household_id, None, None)["exited"]
    assert (exited["on"], exited["how"], exited["recorded_late"]) == ("2027-04-20", "repossessed", False)
    figures = app.figures()
    assert figures["repossessions_executed"] == 1 and figures["sanctions_by_kind"] == {
        "rent_surcharge": 1,
        "repossession": 1,
    }


def test_notices_say_what_why_amounts_deadline_and_how_to_appeal_without_names(app: PenaltiesApp) -> None:
    household_id = registered_household(app)
    feed(app, "on_violation_confirmed", violation(household_id, "sublet", date(2027, 3, 10)))
    (notice,) = app.household_notices(household_id)
    text = notice["text"]
    assert text.startswith("To the household of unit 1204, building 3, Chancheng Garden.")
    for part in ("What:", "Why:", "Amounts:", "500.00 yuan", "How to appeal", "2027-04-09", "suspended"):
        assert part in text
    assert notice["appeal_until"] == "2027-04-09" and notice["estate"] == "Chancheng Garden"
    assert str(household_id) not in text
    assert app.figures()["notices_undelivered"] == 1
    app.record_delivery(UUID(notice["notice_id"]), "file", None)
    app.record_delivery(UUID(notice["notice_id"]), "file", None)  # a second report changes nothing
    (delivered,) = app.household_notices(household_id)
    assert len(delivered["delivered"]) == 1 and app.figures()["notices_undelivered"] == 0
