"""The penalties process: Application, inboxes (ELIGIBILITY, MONITORING), relay, notice delivery, the
periodic overdue check, HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from services.kit.http import create_app, observe, serve
from services.kit.lease import Lease, lease_bucket, run_leased
from services.kit.runtime import Runtime
from services.penalties.api import router
from services.penalties.application import PenaltiesApp
from services.penalties.handlers import consumes, translate
from services.penalties.notifier import NoticeDelivery, make_notifier
from services.penalties.settings import PenaltiesSettings

log = logging.getLogger(__name__)


@dataclass
class PenaltiesRuntime(Runtime):
    """The kit's runtime plus notice delivery and the periodic overdue check, sharing its stop. Like
    the relay and the inboxes, each runs under a lease, so replicas do not both deliver a notice."""

    delivery: NoticeDelivery | None = field(default=None)

    async def start(self) -> None:
        await super().start()
        assert self.nc is not None
        settings = self.app.settings
        kv = await lease_bucket(self.nc.jetstream(), settings.lease_ttl_s, settings.stream_replicas)
        loops: list[tuple[str, Callable[[asyncio.Event], Coroutine[Any, Any, None]]]] = [
            ("overdue-check", self._overdue_loop)
        ]
        if self.delivery is not None:
            loops.append(("notices", self.delivery.run))
        for name, loop in loops:
            lease = Lease(kv, f"{self.service}.{name}", self.instance, settings.lease_ttl_s)
            self._tasks.append(
                asyncio.create_task(run_leased(lease, loop, self._stop, service=self.service), name=name)
            )

    async def _overdue_loop(self, stop: asyncio.Event) -> None:
        app = self.app
        assert isinstance(app, PenaltiesApp)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=app.config.overdue_check_interval_s)
            if stop.is_set():
                return
            try:
                sanctioned = await asyncio.to_thread(app.overdue_check, app.today())
                if sanctioned:
                    log.info("overdue check: %d overstaying households sanctioned", len(sanctioned))
            except Exception:
                log.exception("overdue check failed; next attempt at the next interval")


def build(
    settings: PenaltiesSettings, env: dict[str, str] | None = None, *, app: PenaltiesApp | None = None
) -> tuple[FastAPI, PenaltiesRuntime]:
    app = app or PenaltiesApp(settings, env)
    runtime = PenaltiesRuntime(
        app,
        translate=translate,
        consumes=consumes(app),
        delivery=NoticeDelivery(app, make_notifier(settings)),
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
