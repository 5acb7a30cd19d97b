"""The monitoring process: Application, inbox (households), relay (warnings), signal intake, HTTP API."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from fastapi import FastAPI

from services.kit.http import create_app, observe, serve
from services.kit.lease import Lease, lease_bucket, run_leased
from services.kit.runtime import Runtime
from services.monitoring.api import router
from services.monitoring.application import MonitoringApp
from services.monitoring.handlers import consumes, translate
from services.monitoring.intake import SignalIntake
from services.monitoring.settings import MonitoringSettings

log = logging.getLogger(__name__)


@dataclass
class MonitoringRuntime(Runtime):
    """The kit's runtime plus the signal intake, which shares its NATS connection and its stop."""

    intake: SignalIntake | None = field(default=None)

    async def start(self) -> None:
        await super().start()
        assert self.nc is not None and self.intake is not None
        nc, intake, settings = self.nc, self.intake, self.app.settings
        # One intake at a time across replicas: it folds signals into in-memory counters and a
        # checkpoint; a standby that takes over rebuilds them from its checkpoint or the stream.
        kv = await lease_bucket(nc.jetstream(), settings.lease_ttl_s, settings.stream_replicas)
        lease = Lease(kv, f"{self.service}.intake", self.instance, settings.lease_ttl_s)

        async def run_intake(stop: asyncio.Event) -> None:
            await intake.run(nc, stop)

        task = run_leased(lease, run_intake, self._stop, service=self.service)
        self._tasks.append(asyncio.create_task(task, name="signal-intake"))


def build(
    settings: MonitoringSettings, env: dict[str, str] | None = None
) -> tuple[FastAPI, MonitoringRuntime]:
    app = MonitoringApp(settings, env)
    runtime = MonitoringRuntime(
        app, translate=translate, consumes=consumes(app), intake=SignalIntake(app, settings)
    )
    api = create_app(
        runtime,
        [router(app, runtime)],
        title="Monitoring",
        description="Door-access and utility signals, vacancy and sublet detection, warnings.",
    )
    return api, runtime


def main() -> None:
    settings = MonitoringSettings()
    observe(settings)
    api, runtime = build(settings)
    assert isinstance(runtime.app, MonitoringApp)
    if runtime.app.credential_key_source == "demo":
        log.error(
            "MONITORING_CREDENTIAL_KEY is not set and no CIPHER_KEY to derive it from: door credentials "
            "are hashed under the PUBLISHED DEMO KEY, so anyone with the store can test card numbers "
            "against it. Set MONITORING_CREDENTIAL_KEY (or CIPHER_KEY) in any real deployment."
        )
    else:
        log.info("door credentials hashed under the key from %s", runtime.app.credential_key_source)
    serve(api, settings)
