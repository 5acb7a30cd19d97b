"""Cross-city verification from our own registers, through the front door: `make run`'s processes
(nats-server, every service, Foshan's federation and its four peer cities, the gateway) on free ports;
households registered through the gateway with no hash supplied by anyone, facts sent by the
departments' own accounts. Every peer answers each household; a member owning property in Dongguan's
register makes the household `exit_triggered` naming Dongguan; with a peer down its city is
`unverified` and a person must look; member incomes are divided over the members."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import yaml

from gateway.users import demo_credentials
from infra.stack import Stack, restart_service, start_stack, stop
from services.eligibility.identity import person_hash
from services.eligibility.settings import DEV_PERSON_HASH_KEY
from services.kit.bus import connect
from services.kit.clock import now
from services.kit.keys import write_file
from tests.faults.stack import procfile
from tests.support.nats import free_port

PEERS = ("CN-GZ", "CN-DG", "CN-ZS", "CN-ZQ")
NAMES = (
    "eligibility",
    "penalties",
    "resettlement",
    "training",
    "monitoring",
    "federation",
    "federation-gz",
    "federation-dg",
    "federation-zs",
    "federation-zq",
    "gateway",
)
ELIGIBILITY = {"CROSS_REGION_SWEEP_INTERVAL_S": "0.5", "CROSS_REGION_SWEEP_PAUSE_S": "0.1"}
DONGGUAN_OWNER = "440604198807150016"  # federation/demo.py: owns property over the threshold there
WAIT_S = 180.0
"""How long a household may take to be decided with every peer's answer (a bound, not a measure)."""

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("cross-city")
    var_dir = tmp / "var"
    with start_stack(
        procfile=procfile(tmp, var_dir, {}, names=NAMES, eligibility_env=ELIGIBILITY),
        var_dir=var_dir,
        nats_port=free_port(),
        nats_http_port=free_port(),
        echo=False,
    ) as running:
        yield running


TOKENS: dict[str, dict[str, str]] = {}


def token(client: httpx.Client, account: str) -> dict[str, str]:
    """The account's bearer header, one login per account (the gateway limits logins)."""
    if account not in TOKENS:
        TOKENS[account] = log_in(client, account)
    return TOKENS[account]


def log_in(client: httpx.Client, account: str) -> dict[str, str]:
    secret = next(password for name, _, password in demo_credentials() if name == account)
    if account.startswith("dept."):
        form = {"grant_type": "client_credentials", "client_id": account, "client_secret": secret}
    else:
        form = {"grant_type": "password", "username": account, "password": secret}
    answer = client.post("/auth/token", data=form)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture(scope="module")
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url("gateway"), trust_env=False, timeout=60.0) as client:
        yield client


def register(client: httpx.Client, unit: str, id_numbers: list[str]) -> str:
    body = {
        "region": "CN-FS",
        "estate": "Chancheng Garden",
        "building": "3",
        "unit": unit,
        "base_rent": "680.00",
        "tenancy_start": "2019-05-01",
        "members": [{"id_number": n, "birth_date": "1988-07-15"} for n in id_numbers],
    }
    answer = client.post("/api/households", json=body, headers=token(client, "admin.qian"))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["household_id"])


def send_facts(client: httpx.Client, household: str, incomes: dict[str, str], unit: str) -> None:
    """Civil affairs sends each member's income (person-scoped), finance the household's assets."""
    day = (now() - timedelta(days=2)).date().isoformat()
    income = [
        {
            "department": "civil_affairs",
            "reference": f"MZ-{unit}-{index}",
            "described_on": day,
            "person_hash": person_hash(n, DEV_PERSON_HASH_KEY),
            "fact": {"kind": "income", "monthly_income": amount},
        }
        for index, (n, amount) in enumerate(incomes.items())
    ]
    assets = [
        {
            "department": "finance",
            "reference": f"CZ-{unit}",
            "described_on": day,
            "household_id": household,
            "fact": {"kind": "financial_assets", "amount": "12000.00"},
        }
    ]
    for account, lines in (("dept.civil-affairs", income), ("dept.finance", assets)):
        answer = client.post("/api/facts", json=lines, headers=token(client, account))
        assert answer.status_code < 300, answer.text


def decided(client: httpx.Client, household: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    headers = token(client, "supervisor.chen")  # a supervisor sees the amounts the rules observed
    deadline = time.monotonic() + WAIT_S
    while True:
        view: dict[str, Any] = client.get(f"/api/households/{household}", headers=headers).json()
        if view.get("decision") and done(view):
            return view
        assert time.monotonic() < deadline, f"not decided with every peer's answer: {view}"
        time.sleep(0.5)


def every_peer(view: dict[str, Any]) -> bool:
    return set(view.get("cross_region") or {}) == set(PEERS) and not view.get("cross_region_awaiting")


def rule(view: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in view["decision"]["rules"] if r["rule"] == name)


def test_households_registered_through_the_gateway_are_verified_with_every_peer(
    gateway: httpx.Client, stack: Stack
) -> None:
    clear = register(gateway, "101", ["440604199201010011", "440604199303030022"])
    owner = register(gateway, "102", [DONGGUAN_OWNER, "440604199404040033"])
    send_facts(gateway, clear, {"440604199201010011": "0.00", "440604199303030022": "3000.00"}, "101")
    send_facts(gateway, owner, {DONGGUAN_OWNER: "1200.00", "440604199404040033": "0.00"}, "102")

    view = decided(gateway, clear, every_peer)
    assert view["cross_region"] == dict.fromkeys(PEERS, "no_match")
    assert view["decision"]["outcome"] == "qualifies", view["decision"]
    income = rule(view, "income_per_capita")
    assert income["observed"] == "1500.00" and "/ 2" in income["comparison"], income

    view = decided(gateway, owner, every_peer)
    assert view["cross_region"] == {**dict.fromkeys(PEERS, "no_match"), "CN-DG": "match"}
    assert view["decision"]["outcome"] == "exit_triggered"
    assert "CN-DG (Dongguan): owns property over the threshold" in rule(view, "cross_region")["comparison"]

    # Zhongshan goes down: its answer is `unverified`, never "clear", and a person must look.
    stop(stack.services["federation-zs"].child, echo=False)
    alone = register(gateway, "103", ["440604199505050044"])
    send_facts(gateway, alone, {"440604199505050044": "2000.00"}, "103")
    view = decided(gateway, alone, every_peer)
    assert view["cross_region"] == {**dict.fromkeys(PEERS, "no_match"), "CN-ZS": "unverified"}
    assert view["decision"]["outcome"] == "needs_manual"
    assert "CN-ZS" in rule(view, "cross_region")["comparison"]


def test_no_id_number_reached_a_log(stack: Stack, gateway: httpx.Client) -> None:
    logs = sorted(Path(stack.var_dir / "log").glob("*.log"))
    assert logs
    for log in logs:
        text = log.read_text(errors="replace")
        assert DONGGUAN_OWNER not in text, f"an ID number in {log.name}"


def rotate(directory: Path, city: str, peer: str, new_key: str, moment: datetime) -> None:
    """In `city`'s peer directory, the pair's single key becomes key "1" ending in a day, beside key
    "2" valid from a minute ago (PROTOCOL.md §8): the overlap of a rotation."""
    path = directory / city / "peers.yaml"
    document = yaml.safe_load(path.read_text())
    entry = document["cities"][peer]
    old = entry.pop("linkage_key_file")
    entry["linkage_keys"] = [
        {"key_id": "1", "file": old, "not_after": (moment + timedelta(days=1)).isoformat()},
        {"key_id": "2", "file": new_key, "not_before": (moment - timedelta(minutes=1)).isoformat()},
    ]
    path.write_text(yaml.safe_dump(document, sort_keys=False))


async def checks_asked(stack: Stack, household: str) -> list[dict[str, Any]]:
    """The cross-region checks eligibility published about `household`, as federation reads them."""
    nc = await connect(stack.nats.url, "test-reader", identity="admin", credentials=stack.credentials)
    try:
        js = nc.jetstream()
        subscription = await js.subscribe(
            "housing.eligibility.cross-region-check-requested", ordered_consumer=True
        )
        found: list[dict[str, Any]] = []
        while True:
            try:
                message = await subscription.next_msg(timeout=2)
            except nats.errors.TimeoutError:
                return found
            data = json.loads(message.data)["data"]
            if data["household_id"] == household:
                found.append(data)
    finally:
        await nc.close()


def test_a_linkage_key_rotated_between_foshan_and_dongguan_keeps_matching(
    gateway: httpx.Client, stack: Stack
) -> None:
    """A second Foshan-Dongguan key, agreed and put in both directories; the cities restarted. Our
    checks now hash with it, Dongguan's register is indexed under both, and its resident still
    matches."""
    federation_dir = stack.var_dir / "federation"
    write_file(
        federation_dir / "linkage" / "CN-DG_CN-FS.2.DEMO-ONLY.key",
        secrets.token_hex(32).encode(),
        secret=True,
    )
    moment = now()
    rotate(federation_dir, "CN-FS", "CN-DG", "../linkage/CN-DG_CN-FS.2.DEMO-ONLY.key", moment)
    rotate(federation_dir, "CN-DG", "CN-FS", "../linkage/CN-DG_CN-FS.2.DEMO-ONLY.key", moment)
    for name in ("eligibility", "federation", "federation-dg"):
        stop(stack.services[name].child, echo=False)
        restart_service(stack, name)

    resident = register(gateway, "104", ["441900198503030035"])  # in Dongguan's register: property
    send_facts(gateway, resident, {"441900198503030035": "1000.00"}, "104")
    view = decided(gateway, resident, lambda v: v.get("cross_region", {}).get("CN-DG") == "match")
    assert "CN-DG (Dongguan)" in rule(view, "cross_region")["comparison"]
    asked = asyncio.run(checks_asked(stack, resident))
    assert asked and {s["key_id"] for c in asked for s in c["subjects"] if s["city"] == "CN-DG"} == {"2"}
    assert {s["key_id"] for c in asked for s in c["subjects"] if s["city"] == "CN-GZ"} == {"1"}
