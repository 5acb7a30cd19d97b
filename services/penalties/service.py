"""The penalties process: Application, inboxes (ELIGIBILITY, MONITORING), relay, notice delivery, the
periodic overdue check, HTTP API."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.kit.http import create_app, observe, serve
from services.kit.periodic import Periodic, PeriodicRuntime
from services.penalties.api import router
from services.penalties.application import PenaltiesApp
from services.penalties.handlers import consumes, translate
from services.penalties.notifier import NoticeDelivery, make_notifier
from services.penalties.settings import PenaltiesSettings

log = logging.getLogger(__name__)


def overdue_check(app: PenaltiesApp) -> Periodic:
    """Plans whose exit date has passed become overstaying violations. Under its lease (like the relay
    and the inboxes), so replicas do not both sanction the same plan."""

    async def tick(stop: asyncio.Event) -> None:
        sanctioned = await asyncio.to_thread(app.overdue_check)
        if sanctioned:
            log.info("overdue check: %d overstaying households sanctioned", len(sanctioned))

    return Periodic("overdue-check", app.config.overdue_check_interval_s, tick)


def notice_delivery(app: PenaltiesApp, delivery: NoticeDelivery) -> Periodic:
    """Notice delivery under its lease, so replicas do not both deliver a notice. Its one tick lasts as
    long as the lease: it starts at once, wakes on every saved notice and retries failures every
    `notice_retry_s` itself, and returns when the lease is lost or the process stops. The interval only
    spaces out restarts should the tick itself ever fail."""
    return Periodic("notices", app.config.notice_retry_s, delivery.run, first_after_s=0.0)


def build(
    settings: PenaltiesSettings, env: dict[str, str] | None = None, *, app: PenaltiesApp | None = None
) -> tuple[FastAPI, PeriodicRuntime]:
    app = app or PenaltiesApp(settings, env)
    delivery = NoticeDelivery(app, make_notifier(settings))
    runtime = PeriodicRuntime(
        app,
        translate=translate,
        consumes=consumes(app),
        periodic=[overdue_check(app), notice_delivery(app, delivery)],
    )
    api = create_app(
        runtime,
        [router(app)],
        title="Housing exit platform: penalties and incentives",
        description=(
            "Rent ledger, transition plans, voluntary-exit subsidy, sanctions (surcharge, credit list, "
            "repossession), notices and appeals."
        ),
    )
    return api, runtime


def main() -> None:
    settings = PenaltiesSettings()
    observe(settings)
    api, _ = build(settings)
    serve(api, settings)
