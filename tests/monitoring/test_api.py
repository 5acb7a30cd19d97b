"""The HTTP API without a bus: the register's commands, detection on demand, the warning queries and
the lifecycle's refusals as problem+json."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from contracts.timeline import Timeline
from services.kit.uow import UnitOfWork
from services.monitoring.application import MonitoringApp
from services.monitoring.handlers import DOOR_ACCESS
from services.monitoring.intake import SignalIntake
from services.monitoring.service import build
from services.monitoring.settings import MonitoringSettings
from tests.monitoring.support import INSPECTOR, START, UNIT, door_signal, local
from tests.monitoring.test_warnings import registration
from tests.support.identity import OperatorAuth


class Api:
    def __init__(self, client: httpx.AsyncClient, app: MonitoringApp, intake: SignalIntake) -> None:
        self.client, self.app, self.intake = client, app, intake
        self.household, self.members = uuid4(), [uuid4()]
        uow = UnitOfWork(app)
        app.on_household_registered(uow, registration(self.household, self.members))
        uow.commit(None)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = MonitoringSettings(var_dir=tmp_path)
    fastapi, runtime = build(
        settings, {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "m.sqlite")}
    )
    assert isinstance(runtime.app, MonitoringApp) and runtime.intake is not None
    transport = httpx.ASGITransport(app=fastapi)
    async with httpx.AsyncClient(transport=transport, base_url="http://m", auth=INSPECTOR) as client:
        yield Api(client, runtime.app, runtime.intake)
    runtime.app.close()


async def test_excused_hospital_stay_keeps_a_vacancy_warning_away(api: Api) -> None:
    member = str(api.members[0])
    assert (
        await api.client.post(
            "/credentials", json={"kind": "face", "credential_id": "F-1", "member_id": member}
        )
    ).status_code == 201
    api.app.catch_up()
    api.intake.fold_many(
        [
            (
                DOOR_ACCESS.subject,
                1,
                json.dumps(door_signal(UNIT, "F-1", local(START, 9))).encode(),
            )
        ]
    )
    stay = {
        "member_id": member,
        "start": str(START + timedelta(days=1)),
        "end": str(START + timedelta(days=90)),
        "reason": "hospital stay",
    }
    url = f"/households/{api.household}/excused-absences"
    assert (await api.client.post(url, json=stay)).status_code == 201
    assert (await api.client.post(url, json={**stay, "end": str(START)})).status_code == 422
    assert (await api.client.post(f"/households/{uuid4()}/excused-absences", json=stay)).status_code == 404
    ran = await api.client.post("/detection/run", params={"as_of": str(START + timedelta(days=60))})
    assert ran.json() == {"raised": []}
    history = (await api.client.get("/units/occupancy", params=UNIT._asdict())).json()
    vacancy = next(a for a in history["assessments"] if a["condition"] == "vacancy")
    assert not vacancy["triggered"]


async def test_detection_on_demand_and_the_lifecycle_over_http(api: Api) -> None:
    api.app.catch_up()
    api.intake.fold_many(
        [
            (
                DOOR_ACCESS.subject,
                1,
                json.dumps(door_signal(UNIT, "other", local(START, 9))).encode(),
            )
        ]
    )
    (raised,) = (
        await api.client.post("/detection/run", params={"as_of": str(START + timedelta(days=30))})
    ).json()["raised"]
    assert (
        await api.client.post("/detection/run", params={"as_of": str(START + timedelta(days=31))})
    ).json() == {"raised": []}
    (listed,) = (await api.client.get("/warnings", params={"estate": UNIT.estate})).json()["items"]
    assert listed["warning_id"] == raised and listed["condition"] == "vacancy"
    detail = (await api.client.get(f"/warnings/{raised}")).json()
    assert "No registered member" in detail["explanation"]
    assert {"label": "threshold_days", "value": "30"} in detail["evidence"]
    assert (await api.client.get(f"/warnings/{uuid4()}")).status_code == 404
    someone_else = await api.client.post(f"/warnings/{raised}/rectify", json={"operator_id": "officer.he"})
    assert someone_else.status_code == 403  # a step is taken in the caller's own name
    refused = await api.client.post(f"/warnings/{raised}/rectify", json={"operator_id": "inspector.wu"})
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert (
        await api.client.post(f"/warnings/{raised}/assign", json={"inspector_id": "inspector.wu"})
    ).status_code == 200
    bad_finding = await api.client.post(
        f"/warnings/{raised}/confirm", json={"inspector_id": "inspector.wu", "finding": "sublet"}
    )
    assert bad_finding.status_code == 409
    dismissed = await api.client.post(
        f"/warnings/{raised}/dismiss",
        json={"inspector_id": "inspector.wu", "reason": "tenant abroad for surgery"},
    )
    assert dismissed.status_code == 200
    assert (await api.client.get("/warnings")).json()["items"] == []
    (closed,) = (await api.client.get("/warnings", params={"state": "dismissed"})).json()["items"]
    assert closed["warning_id"] == raised and closed["status"] == "dismissed"
    assert (await api.client.get("/warnings", params={"state": "lost"})).status_code == 422
    assert (
        await api.client.get("/units/occupancy", params={**UNIT._asdict(), "unit": "none"})
    ).status_code == 404


async def test_household_timeline_and_figures_over_http(api: Api) -> None:
    api.app.catch_up()
    api.intake.fold_many(
        [(DOOR_ACCESS.subject, 1, json.dumps(door_signal(UNIT, "other", local(START, 9))).encode())]
    )
    (raised,) = (
        await api.client.post("/detection/run", params={"as_of": str(START + timedelta(days=30))})
    ).json()["raised"]
    uow = UnitOfWork(api.app)
    api.app.on_decision(uow, api.household, "exit_decided", "transition", START + timedelta(days=31))
    uow.commit(None)

    household = (await api.client.get(f"/households/{api.household}")).json()
    assert household["status"] == "exit_decided" and household["estate"] == UNIT.estate
    assert household["exit_decision"]["outcome"] == "transition"
    assert [w["warning_id"] for w in household["warnings"]] == [raised]
    assert (await api.client.get(f"/households/{uuid4()}")).status_code == 404

    answer = (await api.client.get(f"/households/{api.household}/timeline")).json()
    timeline = Timeline.model_validate(answer)
    assert timeline.household_id == api.household
    assert [e.type for e in timeline.entries] == [
        "Household.Registered",
        "OccupancyWarning.Raised",
        "Household.DecisionRecorded",
    ]
    assert "Vacancy warning raised" in timeline.entries[1].summary
    unknown = (await api.client.get(f"/households/{uuid4()}/timeline")).json()
    assert unknown["entries"] == []

    figures = (await api.client.get("/figures")).json()
    assert figures["warnings_by_state"] == {"raised": 1}
    assert figures["open_warnings_by_condition"] == {"vacancy": 1}
    assert (figures["flats_monitored"], figures["households_exit_decided"]) == (1, 1)
    assert figures["signals_ingested"] == 1

    spec = (await api.client.get("/openapi.json")).json()
    figures_schema = spec["paths"]["/figures"]["get"]["responses"]["200"]["content"]["application/json"]
    assert figures_schema["schema"]["$ref"].endswith("/Figures")
    assert "signals_ingested" in spec["components"]["schemas"]["Figures"]["properties"]
    timeline_op = spec["paths"]["/households/{household_id}/timeline"]["get"]
    assert timeline_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/Timeline"
    )


async def test_a_batch_of_credentials_is_answered_line_by_line_and_sent_again_changes_nothing(
    api: Api,
) -> None:
    other, neighbour_id = uuid4(), uuid4()
    uow = UnitOfWork(api.app)
    api.app.on_household_registered(uow, registration(other, [neighbour_id], unit="1205"))
    uow.commit(None)
    member, neighbour = str(api.members[0]), str(neighbour_id)
    lines = [
        {"kind": "card", "credential_id": "C-1", "member_id": member},
        {"kind": "face", "credential_id": "F-1", "member_id": member},
        {"kind": "card", "credential_id": "C-2", "member_id": neighbour},
        {"kind": "card", "credential_id": "C 3", "member_id": member},  # not a credential id
        {"kind": "card", "credential_id": "C-4", "member_id": str(uuid4())},  # nobody's member
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines)
    ndjson = {"content-type": "application/x-ndjson"}
    first = (await api.client.post("/enrolments", content=body, headers=ndjson)).json()
    assert (first["enrolled"], first["moved"], first["unchanged"]) == (3, 0, 0)
    assert [r["line"] for r in first["results"]] == [1, 2, 3]
    assert {r["unit"] for r in first["results"]} == {UNIT.unit, "1205"}
    assert [(p["line"], p["status"]) for p in first["problems"]] == [(4, 422), (5, 404)]
    assert api.app.register.household_of_credential(api.app.hasher.key("card", "C-2")) == other

    again = (await api.client.post("/enrolments", json=lines[:3])).json()
    assert (again["enrolled"], again["moved"], again["unchanged"]) == (0, 0, 3)
    moved = (await api.client.post("/enrolments", json=[{**lines[2], "member_id": member}])).json()
    assert moved["moved"] == 1
    assert api.app.register.household_of_credential(api.app.hasher.key("card", "C-2")) == api.household

    elsewhere = OperatorAuth("clerk.nanhai", "admin", "monitoring", estates=["Nanhai Court"])
    scoped = await api.client.post("/enrolments", json=lines[:1], auth=elsewhere)
    assert scoped.json()["problems"][0]["status"] == 403 and scoped.json()["results"] == []

    nothing_valid = await api.client.post("/enrolments", json=[lines[3], {"kind": "card"}])
    assert nothing_valid.status_code == 422
    assert [p["line"] for p in nothing_valid.json()["problems"]] == [1, 2]
