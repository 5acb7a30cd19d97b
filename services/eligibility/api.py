"""Eligibility's HTTP API: households, department-fact intake, parameters, review cases, what-if.

Who acts is what the caller's verified service assertion names (`services.kit.identity`, minted per
call by the gateway): its `sub` and `role` (`reviewer`, `supervisor`, `assessor`, `household` may act
on cases). Every step of a case is attributed to that subject, so four eyes hold here too: a
supervisor cannot approve her own proposal whatever the caller. The gateway's object-level rules are
applied again from the assertion's claims: an estate-scoped caller reads and acts only on households
and cases of its estates (403 otherwise; lists are filtered), orders sweeps only for an estate of its
own, and sees the what-if counts of its estates only; a department system posts only its own
department's facts.

Amounts are decimal strings in and out (never JSON floats), as in the contracts. ID numbers are taken
by the registration endpoints and never returned: answers show the member's `person_hash` and a mask.

The routes are declared by capability, each part in its own module: `api_households` (registration,
the lists, search, a household, its timeline and members), `api_facts` (department-fact intake),
`api_reviews` (cases, assessments, appeals, reviewers' reports) and `api_parameters` (parameters,
what-if, figures, cross-region sweeps); the request bodies are in `api_bodies`, what the parts share in
`api_common`. `router` registers them in one order, which matters where paths overlap.
"""

from __future__ import annotations

from fastapi import APIRouter

from services.eligibility.api_bodies import (
    HOUSEHOLD_IN,
    HouseholdIn,
    RentSubsidyHouseholdIn,
    TenancyHouseholdIn,
)
from services.eligibility.api_coordination import add_coordination_routes
from services.eligibility.api_facts import add_fact_routes
from services.eligibility.api_households import add_household_routes, add_member_routes
from services.eligibility.api_parameters import (
    add_cross_region_routes,
    add_figures_routes,
    add_parameter_routes,
    add_what_if_routes,
)
from services.eligibility.api_requests import add_request_routes
from services.eligibility.api_reviews import add_review_routes
from services.eligibility.application import EligibilityApp

__all__ = ["HOUSEHOLD_IN", "HouseholdIn", "RentSubsidyHouseholdIn", "TenancyHouseholdIn", "router"]


def router(app: EligibilityApp) -> APIRouter:
    """Every route of the service, in the order they have always been registered (the OpenAPI document
    lists them so, and where paths overlap the first that matches answers)."""
    api = APIRouter()
    add_household_routes(api, app)
    add_figures_routes(api, app)
    add_member_routes(api, app)
    add_fact_routes(api, app)
    add_parameter_routes(api, app)
    add_review_routes(api, app)
    add_what_if_routes(api, app)
    add_cross_region_routes(api, app)
    add_request_routes(api, app)
    add_coordination_routes(api, app)
    return api
