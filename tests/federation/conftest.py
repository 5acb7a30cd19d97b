"""A demo federation in a temporary directory: Foshan, Guangzhou and Dongguan with their own keys,
directories and data (`federation.demo.write_demo`), on free ports; helpers to sign as a peer.

Time: Foshan in process (`foshan`, `client`) runs on `clock`, a `ManualClock` that starts at the
machine's time and moves only when a test moves it; what the helpers sign is dated by the process's
clock, which that application installed (`services.kit.clock`). Cities in subprocesses run on the
machine's clock, which is then the shared one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from federation.demo import DEMO_CITIES, SIGNING_KEY, linkage_name, write_demo
from federation.keys import load_private_key
from federation.service import Node, build
from federation.settings import FederationSettings
from federation.signing import Headers, sign_request
from services.kit import clock as kit_clock
from services.kit.bus import connect, ensure_streams
from services.kit.clock import ManualClock
from services.kit.linkage import id_hash, load_linkage_key
from tests.conftest import free_port
from tests.support.identity import OperatorAuth
from tests.support.nats import NatsServer
from tests.support.processes import ServiceProcess

CITIES = ("CN-FS", "CN-GZ", "CN-DG")
TEST_PEOPLE: dict[str, list[dict[str, Any]]] = {
    "CN-FS": [
        {"id_number": "DEMO-4406-0001", "holds_subsidised_housing": True, "receives_housing_subsidy": False},
        {"id_number": "DEMO-4406-0002", "holds_subsidised_housing": True, "receives_housing_subsidy": True},
    ],
    "CN-GZ": [
        {"id_number": "DEMO-4406-0003", "holds_subsidised_housing": True, "receives_housing_subsidy": False},
        {"id_number": "DEMO-4406-0004", "holds_subsidised_housing": False, "receives_housing_subsidy": True},
    ],
    "CN-DG": [{"id_number": "DEMO-4406-0005", "owns_property_over_threshold": True}],
}
"""The protocol tests' registers, every city's from its data file (Foshan's included: the file is
still how a city without an eligibility of ours answers, and it keeps these tests about the wire)."""
SINGLE = "/federation/v1/household-status"
BATCH = "/federation/v1/household-status:batch"


@dataclass
class Demo:
    root: Path
    ports: dict[str, int]

    def key(self, city: str) -> Ed25519PrivateKey:
        return load_private_key(self.root / city / SIGNING_KEY)

    def linkage(self, a: str, b: str) -> bytes:
        return load_linkage_key(self.root / "linkage" / linkage_name(a, b))

    def hash_for(self, asking: str, answering: str, id_number: str) -> str:
        return id_hash(self.linkage(asking, answering), id_number)

    def base_url(self, city: str) -> str:
        return f"http://127.0.0.1:{self.ports[city]}"

    def env(self, city: str, tmp: Path) -> dict[str, str]:
        """The environment a city's process runs with."""
        return {
            "FEDERATION_CITY": city,
            "FEDERATION_PRIVATE_KEY_FILE": str(self.root / city / SIGNING_KEY),
            "FEDERATION_PEERS_FILE": str(self.root / city / "peers.yaml"),
            "FEDERATION_DATA_FILE": str(self.root / city / "data.yaml"),
            "FEDERATION_AUDIT_FILE": str(tmp / f"{city}-audit.jsonl"),
            "HTTP_PORT": str(self.ports[city]),
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp / f"{city}.sqlite"),
        }

    def settings(self, city: str, tmp: Path, **overrides: Any) -> FederationSettings:
        env = self.env(city, tmp)
        return FederationSettings(
            federation_city=city,
            federation_private_key_file=Path(env["FEDERATION_PRIVATE_KEY_FILE"]),
            federation_peers_file=Path(env["FEDERATION_PEERS_FILE"]),
            federation_data_file=Path(env["FEDERATION_DATA_FILE"]),
            federation_audit_file=Path(env["FEDERATION_AUDIT_FILE"]),
            http_port=self.ports[city],
            var_dir=tmp,
            **overrides,
        )


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    ports = {code: free_port() for code in CITIES}
    root = tmp_path / "federation"
    write_demo(root, ports, people=TEST_PEOPLE)
    assert set(CITIES) <= set(DEMO_CITIES)
    return Demo(root, ports)


def query(
    demo: Demo, asking: str = "CN-GZ", id_number: str = "DEMO-4406-0001", **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "query_id": str(uuid4()),
        "requesting_city": asking,
        "purpose": "exit-review",
        "legal_basis": "Guangdong public rental housing regulations, art. 30",
        "case_id": "GZ-2026-000123",
        "officer_id": "officer.li",
        "requested_at": kit_clock.now().isoformat(),
        "id_hash": demo.hash_for(asking, "CN-FS", id_number),
    }
    body.update(fields)
    return body


def signed(
    demo: Demo,
    body: dict[str, Any] | bytes,
    *,
    asking: str = "CN-GZ",
    answering: str = "CN-FS",
    path: str = SINGLE,
    key: Ed25519PrivateKey | None = None,
    **sign_options: Any,
) -> tuple[bytes, Headers]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = sign_request(
        key or demo.key(asking), asking, "POST", demo.base_url(answering) + path, raw, **sign_options
    )
    return raw, headers


@pytest.fixture
def clock() -> ManualClock:
    """In-process Foshan's clock: the machine's time when the test starts, then still until moved."""
    return ManualClock(kit_clock.system_clock())


@pytest.fixture
def foshan(demo: Demo, tmp_path: Path, clock: ManualClock) -> Iterator[tuple[FastAPI, Node]]:
    """Foshan's HTTP app in process (no NATS: the lifespan is not run), on `clock`."""
    api, node = build(demo.settings("CN-FS", tmp_path), demo.env("CN-FS", tmp_path), clock)
    yield api, node
    node.app.close()


@pytest.fixture
def client(foshan: tuple[FastAPI, Node], demo: Demo) -> TestClient:
    """Foshan's app; its operator routes see a city-wide auditor (the wire routes ignore who that is:
    peers are known by their signatures)."""
    client = TestClient(foshan[0], base_url=demo.base_url("CN-FS"))
    client.auth = OperatorAuth("auditor.sun", "auditor", "federation")
    return client


def city_process(demo: Demo, city: str, tmp: Path, nats_url: str) -> ServiceProcess:
    env = {
        **demo.env(city, tmp),
        "NATS_URL": nats_url,
        "SERVICE_NAME": f"federation-{city.lower()}",
        "VAR_DIR": str(tmp),
        "FEDERATION_CONSUME_CHECKS": "true" if city == "CN-FS" else "false",
        "FEDERATION_PEER_ATTEMPTS": "2",
        "FEDERATION_RETRY_BASE_S": "0.05",
        "FEDERATION_PEER_TIMEOUT_S": "2",
    }
    return ServiceProcess("federation", [], env, tmp / f"{city}.log")


@pytest.fixture
def guangzhou(demo: Demo, tmp_path: Path, nats_server: NatsServer) -> Iterator[ServiceProcess]:
    """Guangzhou as a real process on the test's own nats-server, answering peers from its data file."""

    async def streams() -> None:
        nc = await connect(nats_server.url, "test", identity="admin")
        await ensure_streams(nc.jetstream())
        await nc.close()

    asyncio.run(streams())
    process = city_process(demo, "CN-GZ", tmp_path, nats_server.url).start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()
