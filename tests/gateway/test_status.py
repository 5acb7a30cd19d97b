"""The gateway tells operators which services answer, from their own /readyz."""

from __future__ import annotations

from pathlib import Path

import httpx

from gateway.api import create_gateway
from gateway.settings import GatewaySettings
from tests.conftest import free_port
from tests.support.nats import NatsServer
from tests.support.processes import ServiceProcess


async def test_status_shows_ready_and_down_services(nats_server: NatsServer, tmp_path: Path) -> None:
    feed = ServiceProcess(
        "tests.kit.sample",
        ["feed"],
        {
            "NATS_URL": nats_server.url,
            "SERVICE_NAME": "feed",
            "HTTP_PORT": str(free_port()),
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "feed.sqlite"),
        },
        tmp_path / "feed.log",
    ).start()
    try:
        feed.wait_ready()
        settings = GatewaySettings(
            var_dir=tmp_path,  # its token key there, not in the repository's var/
            services={"feed": f"http://127.0.0.1:{feed.port}", "absent": f"http://127.0.0.1:{free_port()}"},
        )
        api = create_gateway(settings)
        async with (
            api.router.lifespan_context(api),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://gateway") as client,
        ):
            status = {s["name"]: s for s in (await client.get("/api/status")).json()}
            console = await client.get("/")
        assert status["feed"]["state"] == "ready"
        assert status["feed"]["checks"] == {"store": True, "nats": True, "loops": True}
        assert status["absent"]["state"] == "down"
        assert (
            console.status_code == 200 and "保障房退出管理平台" in console.text and "absent" in console.text
        )
    finally:
        feed.stop()
