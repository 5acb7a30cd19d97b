"""`python -m services.kit.streams`: create the JetStream streams of the contracts catalogue."""

from __future__ import annotations

import asyncio

from services.kit.bus import connect_as, ensure_streams
from services.kit.busauth import ADMIN
from services.kit.settings import ServiceSettings


async def main() -> None:
    settings = ServiceSettings(service_name="streams")
    nc = await connect_as(settings, "housing-streams", identity=ADMIN, attempts=20)
    try:
        names = await ensure_streams(nc.jetstream(), replicas=settings.stream_replicas)
        print(f"streams ready on {settings.nats_url}: {', '.join(names)}")
    finally:
        await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
