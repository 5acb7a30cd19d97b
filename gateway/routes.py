"""The operator API (`/api/...`): one front for every service, each route with the scope it needs
(gateway/README.md) and the object-level checks of `gateway.operations`."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.coordination import add_coordination_routes
from gateway.department_requests import add_department_request_routes
from gateway.idempotency import IdempotentRoute
from gateway.route_parts import REFUSED
from gateway.routes_casework import add_casework_routes
from gateway.routes_federation import add_federation_routes
from gateway.routes_households import add_households_routes
from gateway.routes_intake import add_intake_routes
from gateway.routes_lists import add_lists_routes
from gateway.routes_penalties import add_penalties_routes
from gateway.routes_review import add_review_routes


def api_router() -> APIRouter:
    """Every `/api` route, in the order they have always been registered (the OpenAPI document lists
    them so, and where paths overlap the first that matches answers); one module per capability."""
    api = APIRouter(prefix="/api", responses=REFUSED, route_class=IdempotentRoute)  # type: ignore[arg-type]
    add_households_routes(api)
    add_review_routes(api)
    add_intake_routes(api)
    add_lists_routes(api)
    add_penalties_routes(api)
    add_casework_routes(api)
    add_federation_routes(api)
    add_department_request_routes(api)
    add_coordination_routes(api)
    return api
