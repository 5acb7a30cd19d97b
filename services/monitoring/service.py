"""The monitoring process: Application, inbox (households), relay (warnings), signal intake, HTTP API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import FastAPI

from services.kit.http import create_app, observe, serve
from services.kit.runtime import Runtime
from services.monitoring.api import router
from services.monitoring.application import MonitoringApp
from services.monitoring.handlers import consumes, translate
from services.monitoring.intake import SignalIntake
from services.monitoring.settings import MonitoringSettings


@dataclass
class MonitoringRuntime(Runtime):
    """The kit's runtime plus the signal intake, which shares its NATS connection and its stop."""

    intake: SignalIntake | None = field(default=None)

    async def start(self) -> None:
        await super().start()
        assert self.nc is not None and self.intake is not None
        self._tasks.append(asyncio.create_task(self.intake.run(self.nc, self._stop), name="signal-intake"))


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
    api, _ = build(settings)
    serve(api, settings)
