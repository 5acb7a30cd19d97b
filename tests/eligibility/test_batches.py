"""Facts handled a batch at a time, on SQLite and PostgreSQL with a real nats-server: a household with
several facts in one inbox batch gets one decision that reflects all of them; a redelivered batch, a
fact resent under another message and a batch handled by a restarted inbox have no second effect; a
decision that fails for one household costs only that household's fact (dead-lettered), not the
batch. Also: the read model's background catch-up, and what the relay may skip."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.eligibility import translate
from services.eligibility.application import EligibilityApp, MemberInput
from services.eligibility.domain import Household, ReviewCase
from services.eligibility.handlers import consumes
from services.eligibility.queries import what_if
from services.eligibility.settings import EligibilitySettings
from services.kit.bus import connect, ensure_streams
from services.kit.inbox import Inbox
from tests.eligibility.test_bus import fact_message, read_stream
from tests.kit.sample import FACT_REPORTED
from tests.support.nats import NatsServer

INCOME_ABOVE = {"kind": "income", "monthly_income": "5200.00"}  # above 3,960 yuan: exit condition
INCOME_BELOW = {"kind": "income", "monthly_income": "3100.00"}
ASSETS = {"kind": "financial_assets", "amount": "20000.00"}


def register(app: EligibilityApp, unit: str, id_number: str) -> Household:
    return app.register_household(
        region="CN-FS",
        estate="Nanhai Court",
        building="1",
        unit=unit,
        base_rent=Decimal("600.00"),
        tenancy_start=date(2020, 1, 1),
        members=[MemberInput(id_number, date(1985, 7, 15), False)],
    )


def evaluations(app: EligibilityApp, household_id: UUID) -> list[Any]:
    return [e for e in app.events.get(household_id) if isinstance(e, Household.Evaluated)]


def cases(app: EligibilityApp) -> list[ReviewCase]:
    app.population.catch_up()
    return list(app.population.cases.values())


class Department:
    """Publishes facts on the real stream, and fetches them back as one batch for the inbox."""

    def __init__(self, nc: NATS) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.sent = 0

    async def send(self, reference: str, household: UUID, fact: dict[str, Any]) -> None:
        data = fact_message(reference, household, fact)
        await self.js.publish(
            FACT_REPORTED.subject_for(department="civil_affairs"),
            data,
            headers={"Nats-Msg-Id": f"{reference}:{self.sent}"},
        )
        self.sent += 1

    async def batch(self, durable: str) -> list[Msg]:
        """Everything on the stream, in one fetch (what the inbox gets when facts arrive together)."""
        sub = await self.js.pull_subscribe(
            FACT_REPORTED.subject_for(department="civil_affairs"),
            durable=durable,
            stream="DEPARTMENT",
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
        )
        msgs: list[Msg] = []
        while len(msgs) < self.sent:
            msgs += await sub.fetch(self.sent - len(msgs), timeout=5)
        return msgs


def inbox_of(app: EligibilityApp, nc: NATS) -> Inbox:
    department = consumes(app)[0]
    inbox = Inbox(app, nc, department.stream, department.handlers, subjects=department.subjects())
    inbox.position = app.position(inbox.tracking_name)
    return inbox


async def test_a_batch_decides_each_household_once_on_all_its_facts_and_a_redelivery_changes_nothing(
    nats_server: NatsServer, tmp_path: Path, persistence: dict[str, str]
) -> None:
    settings = EligibilitySettings(nats_url=nats_server.url, var_dir=tmp_path)
    app = EligibilityApp(settings, persistence)
    nc = await connect(nats_server.url, "test-batches", identity="admin")
    await ensure_streams(nc.jetstream())
    try:
        first = register(app, "101", "440604198507151234")
        second = register(app, "102", "44060419900101002X")
        department = Department(nc)
        # first household: an income above the limit, corrected by the same department for the same
        # date, and its assets; second household: an income above the limit.
        await department.send("MZ-1", first.id, INCOME_ABOVE)
        await department.send("CZ-1", first.id, ASSETS)
        await department.send("MZ-1b", first.id, INCOME_BELOW)
        await department.send("MZ-2", second.id, INCOME_ABOVE)
        msgs = await department.batch("test-batch")

        await inbox_of(app, nc).process(msgs)

        assert app.position("inbox:DEPARTMENT") == 4
        decided = evaluations(app, first.id)
        assert len(decided) == 1  # one decision for three facts
        decision = decided[0].decision
        assert decision["outcome"] == "qualifies"
        income = next(r for r in decision["rules"] if r["rule"] == "income_per_capita")
        assert income["observed"] == "3100.00" and income["sources"][0]["reference"] == "MZ-1b"
        assets = next(r for r in decision["rules"] if r["rule"] == "financial_assets")
        assert assets["observed"] == "20000.00" and assets["sources"][0]["reference"] == "CZ-1"
        recorded = [e for e in app.events.get(first.id) if isinstance(e, Household.FactRecorded)]
        assert [e.reference for e in recorded] == ["MZ-1", "CZ-1", "MZ-1b"]  # the trail keeps every fact
        # the momentary exit condition of MZ-1 opened no case: the decision stored never saw it
        assert app.household(first.id).open_case is None
        assert app.household(second.id).outcome == "exit_triggered"
        assert [c.household_id for c in cases(app)] == [second.id]
        second_case = app.household(second.id).open_case
        assert second_case is not None

        events_before = app.recorder.max_notification_id()
        # the same batch delivered again, to a restarted inbox: no effect
        await inbox_of(app, nc).process(await department.batch("test-again"))
        await department.send("MZ-2", second.id, INCOME_ABOVE)  # resent under a new message id
        resent = (await department.batch("test-resent"))[-1:]
        await inbox_of(app, nc).process(resent)
        assert app.position("inbox:DEPARTMENT") == 5
        assert app.recorder.max_notification_id() == events_before
        assert len(evaluations(app, second.id)) == 1
        assert app.household(second.id).open_case == second_case and len(cases(app)) == 1
    finally:
        await nc.close()
        app.close()


async def test_a_decision_that_fails_costs_only_its_own_fact(
    nats_server: NatsServer, tmp_path: Path, persistence: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = EligibilitySettings(nats_url=nats_server.url, var_dir=tmp_path, inbox_max_deliver=1)
    app = EligibilityApp(settings, persistence)
    nc = await connect(nats_server.url, "test-batches", identity="admin")
    await ensure_streams(nc.jetstream())
    try:
        households = [register(app, str(100 + n), f"4406041985071512{n}{n}") for n in range(3)]
        broken = households[1].id
        evaluate = app.evaluate_household

        def failing(uow: Any, household: Household) -> Any:
            if household.id == broken:
                raise RuntimeError("a bug in the rules for this household")
            return evaluate(uow, household)

        monkeypatch.setattr(app, "evaluate_household", failing)
        department = Department(nc)
        for n, household in enumerate(households):
            await department.send(f"MZ-{n}", household.id, INCOME_ABOVE)
        msgs = await department.batch("test-failing")

        await inbox_of(app, nc).process(msgs)

        assert app.position("inbox:DEPARTMENT") == 3
        assert [app.household(h.id).outcome for h in households] == ["exit_triggered", None, "exit_triggered"]
        assert "income" not in app.household(broken).facts  # its unit of work was discarded whole
        dead = await read_stream(nats_server.url, "DEADLETTER", "housing.deadletter.eligibility", 1)
        assert (
            len(dead) == 1 and dead[0]["stream_sequence"] == 2 and "a bug in the rules" in dead[0]["reason"]
        )
    finally:
        await nc.close()
        app.close()


def test_what_if_after_a_background_catch_up(tmp_path: Path, persistence: dict[str, str]) -> None:
    from contracts.department import DepartmentFactReported

    app = EligibilityApp(EligibilitySettings(var_dir=tmp_path), persistence)
    try:
        households = [register(app, str(100 + n), f"4406041985071512{n}{n}") for n in range(3)]
        incomes = ["3000.00", "3900.00", "4100.00"]  # 3,800 makes the second one fail too
        reports = [
            DepartmentFactReported.model_validate(
                {
                    "department": "civil_affairs",
                    "reference": f"MZ-{n}",
                    "described_on": app.today(),
                    "household_id": h.id,
                    "fact": {"kind": "income", "monthly_income": income},
                }
            )
            for n, (h, income) in enumerate(zip(households, incomes, strict=True))
        ]
        assert app.ingest(reports) == ["recorded"] * 3
        app.population.catch_up_in_background().join(timeout=30)
        assert len(app.population.households) == 3
        candidate = [("income_per_capita", "CN-FS", Decimal("3800.00"))]
        result = what_if(app, app.today(), candidate)
        assert result["households"] == 3
        assert {k: v["households"] for k, v in result["flips"].items()} == {
            "needs_manual->exit_triggered": [households[1].id]  # no assets on record: needs_manual now
        }
    finally:
        app.close()


def test_the_relay_skips_undecoded_only_events_that_are_never_published(tmp_path: Path) -> None:
    translator = translate.make_translator(EligibilitySettings(var_dir=tmp_path))
    silent: Sequence[str] = sorted(getattr(translator, "silent_topics", ()))
    assert any(topic.endswith("FactReceipt.Received") for topic in silent)
    # of the household's and cases' events only monitoring's noted warnings publish nothing
    assert [t for t in silent if ":Household." in t or ":ReviewCase." in t] == [
        "services.eligibility.domain:Household.OccupancyNoted"
    ]
    assert json.dumps(silent)  # plain strings, as stored in the notification log
