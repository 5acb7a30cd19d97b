"""Cross-region checks and the register peers answer them from: the cross-region capability.

When a household is due for a check is decided by `queries.cross_region_reason` on a `SweepPolicy`
built here (the dated recheck parameter, the settings, operators' sweep orders); the periodic sweep
(sweeper.py) asks federation about due households in batches, and peers' answers are recorded on the
household's current check. Each household's entry in the register peers are answered from
(services/eligibility/register.py) is refreshed whenever the household changes, and in batches when
entries go stale (a linkage key added or expired).
Split out of application.py so that the application module stays readable in one sitting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from services.eligibility import queries
from services.eligibility.base import Actor, EligibilityBase, find_household
from services.eligibility.domain import Household, RoleRefused
from services.eligibility.register import PROPERTY_RULE
from services.eligibility.sweeps import SweepOrders
from services.kit.uow import UnitOfWork


class CrossRegionMixin(EligibilityBase):
    """The periodic sweep's due list and batches, operators' sweep orders, peers' answers, registers."""

    def record_cross_region(
        self,
        uow: UnitOfWork,
        household_id: UUID,
        check_id: UUID,
        city: str,
        result: str,
        matched: Sequence[str] = (),
    ) -> bool:
        """A peer city's answer to the household's current check; re-evaluates the household.
        An answer to an older check, or about an unknown household, changes nothing."""
        household = find_household(uow, household_id)
        if household is not None and household.check_id != check_id:
            # an answer to a check this copy does not know: the copy may be older than the store's
            household = uow.reread(household_id, Household)
        if household is None or household.check_id != check_id:
            return False
        household.cross_region_answered(check_id, city, result, list(matched))
        self.evaluate_before_commit(uow, household.id)
        return True

    def record_exit(self, uow: UnitOfWork, household_id: UUID, on: date, how: str) -> bool:
        """The household handed its flat back: peers are told it is housed here no more. False for
        a household we do not know; a second hand-back changes nothing."""
        household = find_household(uow, household_id)
        if household is None:
            return False
        if household.left_on is None:
            household.leave(on, how)
            self.refresh_register(uow, household)
        return True

    def sweep_policy(self, orders: SweepOrders | None) -> queries.SweepPolicy:
        table = self.current_table()
        today = self.today()
        days: dict[str, int] = {}

        def recheck_days(region: str) -> int:
            if region not in days:
                value = table.value_at("cross_region_recheck_days", region, today)
                days[region] = self.config.cross_region_recheck_days if value is None else int(value.value)
            return days[region]

        return queries.SweepPolicy(
            now=self.clock(),
            recheck_days=recheck_days,
            first_after=timedelta(seconds=self.config.cross_region_first_check_after_s),
            retry=timedelta(seconds=self.config.cross_region_retry_s),
            orders=orders.orders if orders is not None else (),
        )

    def _sweep_orders(self) -> SweepOrders | None:
        """The orders as stored (not as cached: another replica may have taken one since)."""
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                cache.get(SweepOrders.create_id(), evict=True)
        orders: Any
        try:
            orders = self.repository.get(SweepOrders.create_id())
        except AggregateNotFoundError:
            return None
        return orders if isinstance(orders, SweepOrders) else None

    def cross_region_due(self) -> list[tuple[UUID, str]]:
        """Households due for a cross-region check (and why), from the read model: it may lag the
        store, so `request_cross_region_checks` decides again on each household's current state."""
        self.population.catch_up()
        policy = self.sweep_policy(self._sweep_orders())
        return queries.cross_region_due(list(self.population.households.values()), policy)

    def cross_region_in_flight(self) -> int:
        self.population.catch_up()
        policy = self.sweep_policy(None)
        return queries.cross_region_in_flight(list(self.population.households.values()), policy)

    def cross_region_status(self) -> dict[str, Any]:
        self.population.catch_up()
        policy = self.sweep_policy(self._sweep_orders())
        return queries.cross_region_status(list(self.population.households.values()), policy)

    def request_cross_region_checks(self, household_ids: Sequence[UUID]) -> int:
        """Ask federation about the households of one sweep batch (one transaction); returns how many
        were asked. A household is asked only if still due on its stored state, so two processes
        sweeping at once (a lease lost mid-batch) ask it once: the second one's write conflicts, is
        redone, and finds it no longer due."""

        orders = self._sweep_orders()

        def work(uow: UnitOfWork) -> int:
            policy = self.sweep_policy(orders)
            uow.prefetch(household_ids)
            asked = 0
            for household_id in household_ids:
                household = find_household(uow, household_id)
                if household is None:
                    continue
                reason = queries.cross_region_reason(household, policy)
                if reason is None:
                    continue
                cities = list(self.config.cross_region_cities)
                household.cross_region_requested(
                    uuid4(),
                    cities,
                    self.config.cross_region_sweep_purpose,
                    policy.now,
                    reason,
                    self.register_keeper.check_subjects(household, cities, policy.now),
                )
                asked += 1
            return asked

        return self._in_uow(work)

    def order_cross_region_sweep(
        self, region: str | None, estate: str | None, actor: Actor, reason: str
    ) -> int:
        """An operator's order to ask again about every household of a region and/or estate; the
        periodic sweep asks them at its pace. Returns how many households it covers."""
        if actor.role != "supervisor":
            raise RoleRefused("only a supervisor orders a cross-region sweep")

        def work(uow: UnitOfWork) -> None:
            orders = uow.find(SweepOrders.create_id(), SweepOrders)
            if orders is None:
                orders = SweepOrders()
                uow.add(orders)
            orders.order(region, estate, self.clock(), actor.operator_id, reason[:500])

        self._in_uow(work)
        self.population.catch_up()
        return sum(
            1
            for h in list(self.population.households.values())
            if (region is None or h.region == region) and (estate is None or h.estate == estate)
        )

    # -- the register peers are answered from (services/eligibility/register.py) ----------------------

    def refresh_register(self, uow: UnitOfWork, household: Household) -> None:
        today = self.today()
        threshold = self._in_force(self.parameter_table(self._book(uow)), household.region, today).get(
            PROPERTY_RULE
        )
        self.register_keeper.refresh(
            household, None if threshold is None else threshold.value, today, self.clock()
        )

    def registers_stale(self) -> list[UUID]:
        """Households whose register entry is missing or hashed on another basis (a linkage key added
        or expired, or a store from before entries were kept), from the read model."""
        self.population.catch_up()
        now = self.clock()
        keys = self.register_keeper.keyring.basis(now)  # once, not once per household
        stale = self.register_keeper.stale
        return [h.id for h in list(self.population.households.values()) if stale(h, now, keys)]

    def refresh_registers(self, household_ids: Sequence[UUID]) -> int:
        """Bring the register entries of one batch of households up to date (one transaction)."""

        def work(uow: UnitOfWork) -> int:
            uow.prefetch(household_ids)
            refreshed = 0
            for household_id in household_ids:
                household = find_household(uow, household_id)
                if household is not None and self.register_keeper.stale(household, self.clock()):
                    self.refresh_register(uow, household)
                    refreshed += 1
            return refreshed

        return self._in_uow(work)
