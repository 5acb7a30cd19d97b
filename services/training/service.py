"""Wiring: the Training application, its relay and inboxes, its HTTP app, the seed catalogue."""

from __future__ import annotations

from fastapi import FastAPI

from services.kit.http import create_app, observe, serve
from services.kit.runtime import Runtime
from services.training.api import router
from services.training.application import TrainingApp
from services.training.handlers import consumes, make_translator
from services.training.settings import TrainingSettings


def build(
    settings: TrainingSettings, env: dict[str, str] | None = None, *, app: TrainingApp | None = None
) -> tuple[FastAPI, Runtime]:
    """The HTTP app and its runtime around `app` (or a new application on `env`)."""
    app = app or TrainingApp(settings, env)
    runtime = Runtime(app, translate=make_translator(app), consumes=consumes(app))
    api = create_app(
        runtime,
        [router(app)],
        title="Housing exit platform: training",
        description=(
            "Skills courses with the human-resources department for members of exiting households: "
            "referrals, enrolment within capacity, attendance, completion, employment and stable work."
        ),
    )
    return api, runtime


def main() -> None:
    settings = TrainingSettings()
    observe(settings)
    app = TrainingApp(settings)
    app.seed_courses(settings.training_courses_file)
    api, _ = build(settings, app=app)
    serve(api, settings)
