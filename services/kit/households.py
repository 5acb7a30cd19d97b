"""Households on a rent subsidy, as the services that follow households by estate see them.

Eligibility publishes two registrations: `household-registered` (a household in a unit) and
`rent-subsidy-registered` (no unit, no estate). Resettlement and training keep each household under
its estate for their estate-scoped views and checks; a subsidised household has none, so both file it
under one label, `RENT_SUBSIDY_ESTATE`, which the gateway's estate scopes never name (only city-wide
accounts see these households). Kept here once so that the label cannot drift between services.
"""

from __future__ import annotations

from collections.abc import Callable

from contracts.eligibility import HouseholdRegistered, RentSubsidyRegistered
from services.kit.inbox import Handler
from services.kit.runtime import on
from services.kit.uow import UnitOfWork

RENT_SUBSIDY_ESTATE = "(rent subsidy)"


def follow_rent_subsidy(registered: Callable[[UnitOfWork, HouseholdRegistered], object]) -> Handler:
    """The handler of `rent-subsidy-registered` that hands `registered` (the service's handler of
    `household-registered`) the household under `RENT_SUBSIDY_ESTATE`. Only the household, region,
    estate and members are filled in: the tenancy's fields stay unset, and a handler that reads them
    is not one to reuse for a household without a unit."""

    def as_tenancy(uow: UnitOfWork, payload: RentSubsidyRegistered) -> None:
        household = HouseholdRegistered.model_construct(
            household_id=payload.household_id,
            region=payload.region,
            estate=RENT_SUBSIDY_ESTATE,
            members=payload.members,
        )
        registered(uow, household)

    return on(RentSubsidyRegistered, as_tenancy)
