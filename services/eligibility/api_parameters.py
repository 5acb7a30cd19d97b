"""Eligibility's HTTP API: the dated parameters, what-if, the dashboard's figures, cross-region
sweeps and their status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from contracts.identifiers import CityCode
from services.eligibility import rules
from services.eligibility.api_bodies import ParameterValueIn, SweepOrderIn, WhatIfIn
from services.eligibility.api_common import actor, plain, problems
from services.eligibility.application import EligibilityApp
from services.eligibility.queries import figures, what_if
from services.kit.http import IsoDate, Problem
from services.kit.identity import Authenticated, Caller


def value_view(value: rules.ParameterValue) -> Any:
    return plain(
        {
            "rule": value.rule,
            "region": value.region,
            "effective_from": value.effective_from,
            "value": value.value,
            "unit": value.unit,
            "legal_reference": value.legal_reference,
            "added_by": value.added_by,
        }
    )


def scoped_what_if(who: Caller, result: dict[str, Any]) -> dict[str, Any]:
    """An estate-scoped caller's what-if: the counts of its estates, no household ids (as the gateway
    shows it)."""
    for flip in (result.get("flips") or {}).values():
        if isinstance(flip, dict):
            by_estate = {e: n for e, n in (flip.get("by_estate") or {}).items() if who.sees_estate(e)}
            flip["by_estate"] = by_estate
            flip["count"] = sum(int(n) for n in by_estate.values())
            flip.pop("households", None)
            flip.pop("by_region", None)
    result.pop("households", None)
    return result


def add_figures_routes(api: APIRouter, app: EligibilityApp) -> None:
    """`GET /figures`: the bureau's dashboard counts."""

    @api.get("/figures", tags=["figures"], summary="Counts for the bureau's dashboard")
    def get_figures() -> JSONResponse:
        """Households by latest automated outcome, cases by status, final outcomes, proposals sent
        back on approval and appeals overturned (the review overturn rate's numerator and denominator);
        record requests to departments per month (asked, answered, declined, open, overdue, median days);
        the coordination register's problems per month (raised, solved, open, median days) and meetings."""
        app.population.catch_up()
        counts = figures(list(app.population.households.values()), list(app.population.cases.values()))
        requests = list(app.population.requests.values())
        problems = list(app.population.problems.values())
        return JSONResponse(
            {
                **counts,
                "record_requests": app.request_figures(requests, app.today()),
                "coordination": app.coordination_figures(problems, app.today()),
            }
        )


def add_parameter_routes(api: APIRouter, app: EligibilityApp) -> None:
    """The values in force, their history, a supervisor's new dated value."""

    @api.get("/parameters", tags=["parameters"], summary="Values in force in a region on a date")
    def in_force(region: CityCode = "CN-FS", on: IsoDate | None = None) -> JSONResponse:
        day = on or app.today()
        values = rules.parameters_at(app.current_table(), region, day)
        return JSONResponse(
            {
                "region": region,
                "on": day.isoformat(),
                "values": {rule: value_view(v) for rule, v in values.values.items()},
            }
        )

    @api.get("/parameters/history", tags=["parameters"], summary="Every dated value, oldest first")
    def history(rule: str | None = None, region: str | None = None) -> JSONResponse:
        return JSONResponse([value_view(v) for v in app.current_table().history(rule, region)])

    @api.post(
        "/parameters/{rule}/values",
        status_code=201,
        tags=["parameters"],
        summary="Add a dated value (supervisors); history is never overwritten",
    )
    def add_value(rule: str, body: ParameterValueIn, caller: Authenticated) -> JSONResponse:
        who = actor(caller)
        spec = app.defaults.specs.get(rule)
        if spec is None:
            raise Problem(404, "Unknown rule", f"known rules: {', '.join(sorted(app.defaults.specs))}")
        value = rules.ParameterValue(
            rule=rule,
            region=body.region,
            effective_from=body.effective_from,
            value=body.value,
            unit=spec.unit,
            legal_reference=body.legal_reference,
            added_by=who.operator_id,
        )
        with problems():
            app.add_parameter_value(value, who, body.reason)
        return JSONResponse(value_view(value), status_code=201)


def add_what_if_routes(api: APIRouter, app: EligibilityApp) -> None:
    """`POST /what-if`: who would flip under candidate parameters."""

    @api.post(
        "/what-if", tags=["parameters"], summary="Who would flip under candidate parameters (no writes)"
    )
    def post_what_if(body: WhatIfIn, who: Authenticated) -> JSONResponse:
        """An estate-scoped caller gets the counts of its estates only, without household ids."""
        unknown = sorted({v.rule for v in body.values} - set(app.defaults.specs))
        if unknown:
            raise Problem(422, "Unknown rule", f"unknown rules: {', '.join(unknown)}")
        candidate = [(v.rule, v.region, v.value) for v in body.values]
        listed = body.list_households and who.estates is None
        result = what_if(app, body.on, candidate, list_households=listed)
        return JSONResponse(plain(result if who.estates is None else scoped_what_if(who, result)))


def add_cross_region_routes(api: APIRouter, app: EligibilityApp) -> None:
    """Operators' cross-region sweep orders and how far the checks are."""

    @api.post(
        "/cross-region/sweeps",
        status_code=202,
        tags=["cross-region"],
        summary="Order a cross-region check of every household of a region and/or estate (supervisors)",
    )
    def order_sweep(body: SweepOrderIn, caller: Authenticated) -> JSONResponse:
        """Recorded, then asked by the periodic sweep at its pace (the peers' rate limits): `requested`
        is how many households the order covers. An estate-scoped caller orders one for an estate of
        its own only: without an estate a sweep spans every estate."""
        if caller.estates is not None:
            if body.estate is None:
                raise Problem(
                    403, "Forbidden", "without an estate a sweep spans every estate; name one of yours"
                )
            caller.check_estate(body.estate)
        who = actor(caller)
        with problems():
            requested = app.order_cross_region_sweep(body.region, body.estate, who, body.reason)
        config = app.config
        return JSONResponse(
            {
                "region": body.region,
                "estate": body.estate,
                "requested": requested,
                "per_second": config.cross_region_sweep_batch / max(config.cross_region_sweep_pause_s, 1e-3),
            },
            status_code=202,
        )

    @api.get("/cross-region/status", tags=["cross-region"], summary="How far the cross-region checks are")
    def sweep_status() -> JSONResponse:
        """Households never checked, waiting for a peer's answer, due now; matched and unverified."""
        return JSONResponse(app.cross_region_status())
