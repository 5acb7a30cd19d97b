"""Wiring: the Eligibility application, its relay and inbox, its HTTP app."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from services.eligibility.api import router
from services.eligibility.application import EligibilityApp
from services.eligibility.handlers import consumes
from services.eligibility.settings import DEV_PERSON_HASH_KEY, EligibilitySettings
from services.eligibility.sweeper import periodic_registers, periodic_sweep
from services.eligibility.translate import make_translator
from services.kit.http import create_app, observe, serve
from services.kit.periodic import PeriodicRuntime

log = logging.getLogger(__name__)


def build(
    settings: EligibilitySettings, env: dict[str, str] | None = None, *, app: EligibilityApp | None = None
) -> tuple[FastAPI, EligibilityApp]:
    """The HTTP app and its runtime around `app` (or a new application on `env`)."""
    app = app or EligibilityApp(settings, env)
    runtime = PeriodicRuntime(
        app,
        translate=make_translator(settings),
        consumes=consumes(app),
        periodic=[periodic_registers(app), *([periodic_sweep(app)] if settings.cross_region_sweep else [])],
    )
    api = create_app(
        runtime,
        [router(app)],
        title="Housing exit platform: eligibility",
        description="Households, department facts, dated regional exit rules, two-stage review, what-if.",
    )
    return api, app


def main() -> None:
    settings = EligibilitySettings()
    observe(settings)
    if settings.person_hash_key == DEV_PERSON_HASH_KEY:
        log.warning("PERSON_HASH_KEY is the development default: set the key shared with the departments")
    api, app = build(settings)
    # The read model behind the lists, what-if and the sweeps follows the whole log: kept up on a
    # thread from the start, so that no query (the first, or one right after a bulk registration)
    # waits for it to apply what was stored meanwhile.
    if settings.runs("http"):
        app.population.keep_up()
    serve(api, settings)
