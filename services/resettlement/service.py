"""Wiring: the Resettlement application, its relay and inboxes, the pools file, the sweep, its HTTP app."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fastapi import FastAPI

from services.kit.http import create_app, observe, serve
from services.kit.periodic import Periodic, PeriodicRuntime
from services.resettlement.api import router
from services.resettlement.application import ResettlementApp
from services.resettlement.handlers import consumes
from services.resettlement.settings import ResettlementSettings
from services.resettlement.translate import make_translator

log = logging.getLogger(__name__)


def periodic_sweep(app: ResettlementApp) -> Periodic:
    """Expire overdue offers, offer free units to waiting cases: under its lease, so replicas do not
    race each other over the same offers (the commands would refuse the loser, but after the work)."""

    async def tick(stop: asyncio.Event) -> None:
        done = await asyncio.to_thread(app.sweep)
        if any(done.values()):
            log.info("sweep: %s", done)

    return Periodic("sweep", app.config.expiry_sweep_s, tick)


@dataclass
class ResettlementRuntime(PeriodicRuntime):
    """The kit's runtime and its periodic tasks, after loading the pools file when the pools are empty
    (before the inboxes start placing cases into them)."""

    async def start(self) -> None:
        app = self.app
        assert isinstance(app, ResettlementApp)
        await asyncio.to_thread(app.load_pools_if_empty, app.config.resettlement_pools_file)
        await super().start()


def build(
    settings: ResettlementSettings, env: dict[str, str] | None = None, *, app: ResettlementApp | None = None
) -> tuple[FastAPI, ResettlementRuntime]:
    """The HTTP app and its runtime around `app` (or a new application on `env`)."""
    app = app or ResettlementApp(settings, env)
    runtime = ResettlementRuntime(
        app, translate=make_translator(app), consumes=consumes(app), periodic=[periodic_sweep(app)]
    )
    api = create_app(
        runtime,
        [router(app)],
        title="Housing exit platform: resettlement",
        description=(
            "Classified placement after exit: special hardship to transitional housing, households able to "
            "buy to affordable-for-sale units with purchase guidance and a loan-rate discount, others to "
            "market-rental guidance; unit pools, offers, waitlist, move-in."
        ),
    )
    return api, runtime


def main() -> None:
    settings = ResettlementSettings()
    observe(settings)
    api, _ = build(settings)
    serve(api, settings)
