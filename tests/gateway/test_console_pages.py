"""Every console page readable, in both languages, as each demo role, against a small city: the real
eligibility, penalties, resettlement and training apps in process (SQLite, no bus: what the bus would
bring, a registration, an exit decision, a confirmed violation, is handed to each app the way its inbox
does), with monitoring and federation stand-ins that answer the real services' shapes.

Two households (Chancheng Garden, Nanhai Homes), both over the income limit: the Chancheng case is
proposed by reviewer.li and approved by supervisor.chen, then the exit decision reaches the other
services (a transition plan and its stepped rent, a placement offer, a training referral and a job); a
confirmed sublet brings a rent surcharge and a credit-list entry, one appealed. The Nanhai case stays
proposed by supervisor.wang, so that one supervisor is its proposer and another may approve it.

What is checked on every page: no JSON object or array literal in what the reader sees, no code shown
without its words (`gateway.wording.unworded`), and in Chinese no raw code or snake_case key; then the
particular things operators asked for: money as ¥12,345.00, dates in the reader's language, the
four-eyes rule before and after it refuses, the language switch on a form's answer, the legal basis as
the regulation's name, and one source for the cross-region figure on the dashboard and the federation
page. Pages are written to var/test-artifacts/console-pages/ (or $TEST_ARTIFACTS_DIR) for a reader.
"""

# ruff: noqa: RUF001 - Chinese text takes full-width punctuation (commas, colons, brackets)

from __future__ import annotations

import html
import os
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from contracts.eligibility import ExitDecided, HouseholdRegistered, Member
from contracts.monitoring import ViolationConfirmed
from gateway import wording
from gateway.i18n import LABELS
from gateway.tokens import Tokens
from services.eligibility.application import EligibilityApp
from services.eligibility.service import build as build_eligibility
from services.eligibility.settings import EligibilitySettings
from services.kit.uow import UnitOfWork
from services.penalties.application import PenaltiesApp
from services.penalties.service import build as build_penalties
from services.penalties.settings import PenaltiesSettings
from services.resettlement.application import ResettlementApp, UnitSpec
from services.resettlement.service import build as build_resettlement
from services.resettlement.settings import ResettlementSettings
from services.training.application import TrainingApp
from services.training.service import build as build_training
from services.training.settings import TrainingSettings
from tests.conftest import REPO
from tests.gateway.conftest import GatewayFactory, bearer
from tests.gateway.test_console import hidden_csrf, log_in
from tests.support.dates import city_today, month_words, yesterday

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO / "var" / "test-artifacts")) / "console-pages"
SERVICES = ("eligibility", "penalties", "resettlement", "training", "monitoring", "federation")
DEMO_ACCOUNTS = (
    "reviewer.li",
    "reviewer.he",
    "supervisor.chen",
    "supervisor.wang",
    "inspector.zhao",
    "auditor.sun",
    "admin.qian",
)
LOG_ROWS = 12_345
"""The federation log's length: far past the 500 rows the dashboard used to count."""

CHANCHENG, NANHAI = "Chancheng Garden", "Nanhai Homes"
TRACE = "0af7651916cd43dd8448eb211c80319c"
INCOME = "4200.00"
BASE_RENT = "12345.00"
"""The Chancheng flat's base rent: the console must show it as ¥12,345.00."""


@dataclass
class City:
    """The apps (to hand them what the bus would) and the ids of what was seeded."""

    eligibility: EligibilityApp
    penalties: PenaltiesApp
    resettlement: ResettlementApp
    training: TrainingApp
    households: dict[str, str]
    cases: dict[str, str]
    members: dict[str, UUID]

    def close(self) -> None:
        for app in (self.eligibility, self.penalties, self.resettlement, self.training):
            app.close()


def _sqlite(tmp_path: Path, name: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / f"{name}.sqlite")}


def federation_log() -> FastAPI:
    """Federation's operator routes, entries shaped as `federation/api.py` writes them (lists and
    objects among the fields), LOG_ROWS rows in all."""
    api = FastAPI()

    @api.get("/federation/v1/exchanges")
    async def exchanges(limit: int = 50) -> JSONResponse:
        rows: list[dict[str, Any]] = [
            {
                "seq": LOG_ROWS,
                "kind": "PeerConcluded",
                "id": str(uuid4()),
                "city": "CN-GZ",
                "result": "no_match",
                "reason": None,
                "query_ids": ["q-1", "q-2"],
                "at": "2026-11-27T09:00:00+00:00",
            },
            {
                "seq": LOG_ROWS - 1,
                "kind": "Answered",
                "id": str(uuid4()),
                "city": "CN-DG",
                "status": 200,
                "query_ids": ["q-3"],
                "purpose": "exit-review",
                "matches": [{"category": "holds_subsidised_housing", "value": False}],
                "at": "2026-11-27T08:59:00+00:00",
            },
        ]
        return JSONResponse({"items": rows[:limit], "next": None})

    @api.get("/{path:path}")
    async def other(path: str) -> JSONResponse:
        return JSONResponse({"title": "Not found", "status": 404}, status_code=404)

    return api


def monitoring(city: City) -> FastAPI:
    """Monitoring's reads as `services/monitoring` answers them: a vacancy warning raised on the
    Chancheng flat, one assigned on the Nanhai flat, the figures, a timeline of its own."""
    api = FastAPI()

    def warning(estate: str, status: str, condition: str, inspector: str | None) -> dict[str, Any]:
        return {
            "warning_id": str(uuid4()),
            "household_id": city.households[estate],
            "estate": estate,
            "building": "3",
            "unit": "1204",
            "condition": condition,
            "raised_on": "2027-03-01",
            "risk_score": 0.82,
            "status": status,
            "inspector_id": inspector,
            "finding": None,
        }

    @api.get("/warnings")
    async def warnings() -> JSONResponse:
        return JSONResponse(
            {
                "items": [
                    warning(CHANCHENG, "raised", "vacancy", None),
                    warning(NANHAI, "assigned", "sublet_or_lend", "inspector.zhao"),
                ],
                "next": None,
            }
        )

    @api.get("/figures")
    async def figures() -> JSONResponse:
        return JSONResponse(
            {
                "warnings_by_state": {"raised": 1, "assigned": 1},
                "warnings_by_condition": {"vacancy": 1, "sublet_or_lend": 1},
                "warnings_by_state_and_condition": {
                    "raised": {"vacancy": 1},
                    "assigned": {"sublet_or_lend": 1},
                },
                "open_warnings_by_condition": {"vacancy": 1, "sublet_or_lend": 1},
                "violations_confirmed_by_kind": {"sublet": 1},
                "flats_monitored": 2,
                "flats_unlet": 0,
                "households_exit_decided": 1,
                "households_exited": 0,
                "credentials_enrolled": 3,
                "signals_ingested": 1_234,
                "signals_refused": 5,
            }
        )

    @api.get("/households/{household_id}/timeline")
    async def timeline(household_id: str) -> JSONResponse:
        entry = {
            "at": "2027-03-01T01:00:00+00:00",
            "service": "monitoring",
            "type": "OccupancyWarning.Raised",
            "summary": "Vacancy warning raised for Chancheng Garden/3/1204 (risk 0.82)",
            "actor": None,
            "reason": (
                "No registered member opened the door for 45 day(s) up to 2027-03-01 (threshold 30; last "
                "member access 2027-01-15). Utilities near zero (at most 0.5 m3 water and 5 kWh a month)."
            ),
            "trace_id": TRACE,
        }
        return JSONResponse({"household_id": household_id, "entries": [entry]})

    @api.get("/{path:path}")
    async def other(path: str) -> JSONResponse:
        return JSONResponse({"title": "Not found", "status": 404}, status_code=404)

    return api


def mounts(city: City) -> dict[str, httpx.AsyncBaseTransport]:
    apps: dict[str, Any] = {
        "eligibility": build_eligibility(EligibilitySettings(), app=city.eligibility)[0],
        "penalties": build_penalties(PenaltiesSettings(), app=city.penalties)[0],
        "resettlement": build_resettlement(
            ResettlementSettings(resettlement_pools_file=None), app=city.resettlement
        )[0],
        "training": build_training(TrainingSettings(training_courses_file=None), app=city.training)[0],
        "monitoring": monitoring(city),
        "federation": federation_log(),
    }
    return {f"http://{name}": httpx.ASGITransport(app=api) for name, api in apps.items()}


def apps(tmp_path: Path) -> City:
    eligibility = EligibilityApp(EligibilitySettings(var_dir=tmp_path), _sqlite(tmp_path, "eligibility"))
    penalties = PenaltiesApp(PenaltiesSettings(var_dir=tmp_path), _sqlite(tmp_path, "penalties"))
    resettlement = ResettlementApp(
        ResettlementSettings(var_dir=tmp_path, resettlement_pools_file=None),
        _sqlite(tmp_path, "resettlement"),
    )
    training = TrainingApp(
        TrainingSettings(var_dir=tmp_path, training_courses_file=None), _sqlite(tmp_path, "training")
    )
    return City(eligibility, penalties, resettlement, training, {}, {}, {})


def _inbox(handler: Callable[[UnitOfWork, Any], object], app: Any, payload: Any) -> None:
    uow = UnitOfWork(app)
    handler(uow, payload)
    uow.commit(None)


async def seed(city: City, client: httpx.AsyncClient, tokens: Tokens) -> None:
    """Everything the module docstring lists, through the gateway where an operator acts."""
    admin = bearer(tokens, "admin")
    for estate, id_number, rent in (
        (CHANCHENG, "440604198507151234", BASE_RENT),
        (NANHAI, "440605199001011238", "680.00"),
    ):
        body = {
            "region": "CN-FS",
            "estate": estate,
            "building": "3",
            "unit": "1204",
            "base_rent": rent,
            "tenancy_start": "2019-05-01",
            "members": [{"id_number": id_number, "birth_date": "1985-07-15"}],
        }
        response = await client.post("/api/households", json=body, headers=admin)
        assert response.status_code == 201, response.text
        household = response.json()["household_id"]
        city.households[estate] = household
        member = city.members[estate] = uuid4()
        registered = HouseholdRegistered(
            household_id=UUID(household),
            region="CN-FS",
            estate=estate,
            building="3",
            unit="1204",
            base_rent=Decimal(rent),
            tenancy_start=date(2019, 5, 1),
            members=[Member(member_id=member, birth_date=date(1985, 7, 15), disabled=False)],
        )
        penalties = city.penalties
        penalties.run(partial(penalties.on_household_registered, payload=registered))
        _inbox(city.resettlement.on_household_registered, city.resettlement, registered)
        _inbox(city.training.on_household_registered, city.training, registered)
    facts = [
        {
            "department": "civil_affairs",
            "reference": f"MZ-{n}",
            "described_on": yesterday(),
            "household_id": household,
            "fact": {"kind": "income", "monthly_income": INCOME},
        }
        for n, household in enumerate(city.households.values())
    ]
    pushed = await client.post("/api/facts", json=facts, headers=bearer(tokens, "department"))
    assert pushed.status_code == 200, pushed.text
    for estate, household in city.households.items():
        view = (await client.get(f"/api/households/{household}", headers=admin)).json()
        city.cases[estate] = view["open_case"]
    finding = {
        "findings": "payslips for two quarters",
        "proposed_outcome": "transition",
        "reason_code": "INC",
    }
    for estate, who in ((CHANCHENG, "reviewer_scoped"), (NANHAI, "supervisor2")):
        url = f"/api/cases/{city.cases[estate]}/findings"
        done = await client.post(url, json=finding, headers=bearer(tokens, who))
        assert done.status_code == 200, done.text
    approved = await client.post(
        f"/api/cases/{city.cases[CHANCHENG]}/approval",
        json={"reason": "income above the limit"},
        headers=bearer(tokens, "supervisor"),
    )
    assert approved.status_code == 200, approved.text

    house = UUID(city.households[CHANCHENG])
    decided = ExitDecided(
        household_id=house,
        review_id=uuid4(),
        route="transition",
        decided_on=city_today(),  # the day the services date what happens now
        low_income=True,
        wants_to_buy=False,
    )
    city.penalties.run(lambda uow: city.penalties.on_exit_decided(uow, decided))
    city.resettlement.add_units(
        [UnitSpec("transitional", "Chancheng Court", "1", f"010{n}", Decimal("40.00")) for n in (1, 2)]
    )
    city.resettlement.exit_decided(decided)
    _inbox(city.training.on_exit_decided, city.training, decided)

    warning = ViolationConfirmed(
        household_id=house,
        warning_id=uuid4(),
        violation="sublet",
        estate=CHANCHENG,
        building="3",
        unit="1204",
        inspector_id="inspector.zhao",
        confirmed_on=date.fromisoformat(yesterday()),
    )
    city.penalties.run(lambda uow: city.penalties.on_violation_confirmed(uow, warning))
    officer = bearer(tokens, "reviewer_scoped")
    for kind in ("rent_surcharge", "credit_list"):  # (on the service's day: today)
        sanction = {"kind": kind, "violation": "sublet", "basis_id": str(warning.warning_id)}
        imposed = await client.post(f"/api/households/{house}/sanctions", json=sanction, headers=officer)
        assert imposed.status_code in (200, 201), imposed.text  # a sublet's surcharge is automatic
    # a credit-list entry the reviewer proposed is entered by a supervisor (four eyes)
    entered = await client.post(
        f"/api/sanctions/{imposed.json()['sanction_id']}/enter", headers=bearer(tokens, "supervisor2")
    )
    assert entered.status_code == 200, entered.text
    lodged = await client.post(
        f"/api/sanctions/{imposed.json()['sanction_id']}/appeals",
        json={"grounds": "the lodger is my brother"},
        headers=officer,
    )
    assert lodged.status_code == 201, lodged.text

    course = {
        "code": "electrician-2027",
        "title": "Electrician",
        "provider": "Foshan technical school",
        "estate": CHANCHENG,
        "capacity": 10,
        "sessions": [
            {"on": (city_today() + timedelta(days=7)).isoformat(), "topic": "safety"},
            {"on": (city_today() + timedelta(days=14)).isoformat(), "topic": "wiring"},
        ],
    }
    added = await client.post("/api/courses", json=course, headers=officer)
    assert added.status_code == 201, added.text
    referrals = (await client.get("/api/referrals", headers=officer)).json()["items"]
    assert referrals, "the exit decision refers the working-age member"
    enrolled = await client.post(
        f"/api/courses/{added.json()['course_id']}/enrolments",
        json={"referral_id": referrals[0]["referral_id"]},
        headers=officer,
    )
    assert enrolled.status_code == 201, enrolled.text
    employment = {"employer": "Midea", "start_date": "2026-05-01"}  # a job that has begun
    hired = await client.post(
        f"/api/referrals/{referrals[0]['referral_id']}/employment", json=employment, headers=officer
    )
    assert hired.status_code == 201, hired.text


# -- what a reader sees ------------------------------------------------------------------------------


class _Text(HTMLParser):
    """The text nodes a browser shows (no script, style or SVG markup; attribute values left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "textarea", "option"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "textarea", "option"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.nodes.append(data.strip())


def seen(page: str) -> list[str]:
    parser = _Text()
    parser.feed(page)
    return parser.nodes


JSON_LITERAL = re.compile(r'\{\s*"|\{\s*\'|"\s*:\s|\[\s*\{|\[\s*"|\[\]|\{\}')
"""An object or array literal: `{"`, `": `, `[{`, `["`, `[]`, `{}`."""
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
"""A snake_case code or key (`exit_triggered`, `households_by_outcome`)."""
CODES = frozenset(wording.WORDS) | frozenset(LABELS)
OWN_WORDS = ("payslips for two quarters", "income above the limit", "the lodger is my brother")
"""What operators typed in the seed: their own words, shown as typed."""


def unreadable(page: str, lang: str) -> list[str]:
    """What a reader should not meet on the page: JSON literals; in Chinese, raw codes and keys."""
    found = []
    for node in seen(page):
        text = html.unescape(node)
        if JSON_LITERAL.search(text):
            found.append(f"JSON: {text[:120]}")
        if lang == "zh" and not any(own in text for own in OWN_WORDS):
            if SNAKE.search(text):
                found.append(f"code: {text[:120]}")
            elif text in CODES:
                found.append(f"untranslated: {text}")
    return found


def keep(name: str, page: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9.-]+', '_', name)}.html").write_text(page, encoding="utf-8")


# -- the city behind the gateway ------------------------------------------------------------------------


@dataclass
class Town:
    city: City
    client: httpx.AsyncClient


@pytest.fixture
async def town(tmp_path: Path, gateway: GatewayFactory, tokens: Tokens) -> AsyncIterator[Town]:
    city = apps(tmp_path)
    services = {name: f"http://{name}" for name in SERVICES}
    try:
        async with gateway(
            mounts=mounts(city), services=services, tracing_ui_url="http://jaeger.test/trace/"
        ) as client:
            await seed(city, client, tokens)
            yield Town(city, client)
    finally:
        city.close()


def pages(city: City) -> dict[str, str]:
    """Every console page: name → path (cases and households named by their estate)."""
    boards = ("dashboard", "queue", "warnings", "sanctions", "pools", "training", "federation", "parameters")
    found = {name: f"/console/{name}" for name in (*boards, "accounts")}
    found["household-search"] = f"/console/households?estate={CHANCHENG.replace(' ', '+')}"
    found["queue-estate"] = f"/console/queue?estate={CHANCHENG.replace(' ', '+')}"
    for estate in (CHANCHENG, NANHAI):
        found[f"case-{estate}"] = f"/console/cases/{city.cases[estate]}"
        found[f"household-{estate}"] = f"/console/households/{city.households[estate]}"
    return found


async def test_every_page_in_both_languages_as_each_role_is_words_not_json(town: Town) -> None:
    client = town.client
    wording.forget_unworded()
    problems: list[str] = []
    shown = 0
    for account in DEMO_ACCOUNTS:
        await log_in(client, account)
        for lang in ("zh", "en"):
            for name, path in pages(town.city).items():
                response = await client.get(path, params={"lang": lang})
                assert response.status_code in (200, 403), (account, path, response.text[:300])
                keep(f"{account}-{lang}-{name}", response.text)
                shown += response.status_code == 200
                problems += [f"{account} {lang} {path}: {p}" for p in unreadable(response.text, lang)]
    assert shown > 100
    assert not problems, "\n".join(problems)
    assert not wording.unworded(), f"codes without words: {sorted(wording.unworded())}"


async def test_money_dates_and_the_ledger_read_as_words(town: Town) -> None:
    client = town.client
    await log_in(client, "supervisor.chen")
    house = town.city.households[CHANCHENG]
    zh = (await client.get(f"/console/households/{house}", params={"lang": "zh"})).text
    en = (await client.get(f"/console/households/{house}", params={"lang": "en"})).text
    for page in (zh, en):
        assert "¥12,345.00" in page and "¥4,200.00" in page  # base rent, the income fact
        assert "12345.00" not in page and "4200.00" not in page.replace("¥4,200.00", "")
    decided = city_today()
    first_month = month_words(date(decided.year + decided.month // 12, decided.month % 12 + 1, 1))
    assert first_month[0] in zh and "1985年7月15日" in zh  # the plan's first month, a birth date
    assert first_month[1] in en and "15 Jul 1985" in en
    assert "过渡期租金" in zh and "加收租金" in zh  # the ledger's explanations, said in Chinese
    assert "Transition rent: +10 % a month" in en and "¥6,172.50 a month" in en
    case = (await client.get(f"/console/cases/{town.city.cases[CHANCHENG]}", params={"lang": "zh"})).text
    assert "¥4,200.00 &gt; ¥3,960.00" in case and "达到退出条件" in case and "人均月收入" in case


async def test_the_legal_basis_names_the_regulation(town: Town) -> None:
    await log_in(town.client, "supervisor.chen")
    for path in ("/console/parameters", f"/console/cases/{town.city.cases[CHANCHENG]}"):
        page = (await town.client.get(path)).text
        assert "佛山市公共租赁住房管理办法" in page, path
        assert "seed/" not in page and "BRIEF" not in page and ".md" not in page, path


async def test_the_proposer_is_offered_no_approval_and_a_forced_one_names_the_four_eyes_rule(
    town: Town,
) -> None:
    client, case = town.client, town.city.cases[NANHAI]  # proposed by supervisor.wang
    await log_in(client, "supervisor.wang")
    own = await client.get(f"/console/cases/{case}", params={"lang": "en"})
    assert 'id="approve"' not in own.text and 'id="send-back"' not in own.text
    assert 'id="own-proposal"' in own.text and "someone other than the reviewer who made it" in own.text
    forced = await client.post(
        f"/console/cases/{case}/approval", data={"reason": "mine", "csrf": hidden_csrf(own.text)}
    )
    assert forced.status_code == 403 and "text/html" in forced.headers["content-type"]
    assert "a proposal is approved by someone other than the reviewer who made it" in forced.text
    assert "Another supervisor approves it or sends it back" in forced.text
    zh = await client.get(f"/console/cases/{case}", params={"lang": "zh"})
    forced_zh = await client.post(
        f"/console/cases/{case}/approval", data={"reason": "mine", "csrf": hidden_csrf(zh.text)}
    )
    assert "四眼原则：复核意见由提出该意见的审核员以外的人员批准" in forced_zh.text
    await log_in(client, "supervisor.chen")
    other = await client.get(f"/console/cases/{case}")
    assert 'id="approve"' in other.text and 'id="own-proposal"' not in other.text


async def test_a_refusal_says_who_may_act(town: Town) -> None:
    client = town.client
    await log_in(client, "auditor.sun")
    page = await client.get(f"/console/cases/{town.city.cases[NANHAI]}", params={"lang": "en"})
    refused = await client.post(
        f"/console/cases/{town.city.cases[NANHAI]}/approval", data={"csrf": hidden_csrf(page.text)}
    )
    assert refused.status_code == 403
    assert "may not approve or send back a proposal (cases:approve)" in refused.text
    assert re.search(r"Who may act:</b>\s*Supervisor\.", refused.text)
    await log_in(client, "reviewer.li")  # Chancheng Garden only
    outside = await client.get(f"/console/cases/{town.city.cases[NANHAI]}", params={"lang": "en"})
    assert outside.status_code == 403 and "an administrator assigns estates" in outside.text


async def test_the_language_switch_of_a_form_answer_leads_to_a_page_that_answers_get(town: Town) -> None:
    client = town.client
    await log_in(client, "supervisor.chen")
    page = await client.get("/console/parameters", params={"lang": "zh"})
    result = await client.post(
        "/console/parameters/what-if",
        data={
            "csrf": hidden_csrf(page.text),
            "rule": "income_per_capita",
            "region": "CN-FS",
            "value": "4300",
            "on": yesterday(),
        },
    )
    assert result.status_code == 200 and 'id="what-if-result"' in result.text
    switch = re.search(r'href="([^"]+)" id="lang-switch"', result.text)
    assert switch is not None and html.unescape(switch[1]) == "/console/parameters?lang=en"
    switched = await client.get(html.unescape(switch[1]))
    assert switched.status_code == 200 and "<h1>Policy parameters</h1>" in switched.text
    refused = await client.post(f"/console/cases/{town.city.cases[CHANCHENG]}/approval", data={"csrf": "x"})
    back = re.search(r'href="([^"]+)" id="lang-switch"', refused.text)
    assert (
        back is not None and html.unescape(back[1]) == f"/console/cases/{town.city.cases[CHANCHENG]}?lang=zh"
    )
    assert (await client.get(html.unescape(back[1]))).status_code == 200


async def test_the_dashboard_and_the_federation_page_count_cross_region_checks_from_one_source(
    town: Town, tokens: Tokens
) -> None:
    client = town.client
    status = (await client.get("/api/cross-region/status", headers=bearer(tokens, "auditor"))).json()
    verified = status["households"] - status["never_checked"] - status["awaiting_answers"]
    await log_in(client, "auditor.sun")
    dashboard = (await client.get("/console/dashboard", params={"lang": "en"})).text
    federation = (await client.get("/console/federation", params={"lang": "en"})).text
    tile = re.search(r'id="tile-cross_region_verifications"><div class="n">([^<]+)<', dashboard)
    summary = re.search(r'id="cross-region-checked">([^<]+)<', federation)
    assert tile is not None and summary is not None
    assert tile[1] == summary[1] == f"{verified:,}"
    assert f"2 / {LOG_ROWS:,}" in federation  # the log's own count: events, said as such
    assert f"{LOG_ROWS:,}" not in dashboard
    figures = (await client.get("/api/figures", headers=bearer(tokens, "auditor"))).json()
    assert figures["headline"]["cross_region_verifications"] == verified  # the API says the same


async def test_trace_links_use_the_configured_base(town: Town) -> None:
    await log_in(town.client, "supervisor.chen")
    page = (await town.client.get(f"/console/households/{town.city.households[CHANCHENG]}")).text
    assert f'href="http://jaeger.test/trace/{TRACE}"' in page
    assert "127.0.0.1:16686" not in page
