"""Lists and counts folded from the notification log (the views of `core`): sanctions, plans and
appeals by state, their pages (only the page's objects are loaded from the store), the dashboard."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.kit.paging import Page, paginate
from services.penalties.core import Sees
from services.penalties.ledger import Ledger


class Lists(Ledger):
    def list_sanctions(self, state: str | None) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            ids = [v.sanction_id for v in self.sanctions.values() if state is None or v.state == state]
        return [self.sanction_dict(self._get(s)) for s in ids]

    def list_transitions(self, state: str | None) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            ids = [h for h, plan in self.transitions.items() if state is None or plan["state"] == state]
        out = []
        for household_id in ids:
            plan = self.transition_dict(self.load_tenancy(household_id))
            if plan is not None:
                out.append(plan)
        return out

    def list_appeals(self, state: str | None) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            ids = [a for a, view in self.appeals.items() if state is None or view["state"] == state]
        return [self.appeal_dict(self._get(a)) for a in ids]

    # Pages of the lists (`services.kit.paging`): chosen and ordered on the views, so that only the
    # page's sanctions, plans and appeals are loaded from the store. `sees` is the caller's estates.

    def sanctions_page(
        self, state: str | None, estate: str | None, sees: Sees, limit: int, cursor: str | None
    ) -> Page[dict[str, Any]]:
        """In the order they were imposed."""
        self.catch_up()
        with self.lock:
            chosen = [
                v
                for v in self.sanctions.values()
                if (state is None or v.state == state)
                and (estate is None or v.estate == estate)
                and sees(v.estate)
            ]
        page = paginate(chosen, lambda v: (v.imposed_at, str(v.sanction_id)), limit=limit, cursor=cursor)
        return page.map(lambda v: self.sanction_dict(self._get(v.sanction_id)))

    def transitions_page(
        self, state: str | None, estate: str | None, sees: Sees, limit: int, cursor: str | None
    ) -> Page[dict[str, Any]]:
        """In the order they started."""
        self.catch_up()
        with self.lock:
            chosen = [
                (household_id, plan["started_at"])
                for household_id, plan in self.transitions.items()
                if (state is None or plan["state"] == state)
                and (estate is None or self.estates.get(household_id) == estate)
                and sees(self.estates.get(household_id))
            ]
        page = paginate(chosen, lambda c: (c[1], str(c[0])), limit=limit, cursor=cursor)
        plans = page.map(lambda c: self.transition_dict(self.load_tenancy(c[0])))
        return Page([p for p in plans.items if p is not None], plans.next)

    def appeals_page(
        self, state: str | None, estate: str | None, sees: Sees, limit: int, cursor: str | None
    ) -> Page[dict[str, Any]]:
        """In the order they were lodged."""
        self.catch_up()
        with self.lock:
            chosen = [
                (appeal_id, view["lodged_at"])
                for appeal_id, view in self.appeals.items()
                if (state is None or view["state"] == state)
                and (estate is None or view["estate"] == estate)
                and sees(view["estate"])
            ]
        page = paginate(chosen, lambda c: (c[1], str(c[0])), limit=limit, cursor=cursor)
        return page.map(lambda c: self.appeal_dict(self._get(c[0])))

    def figures(self) -> dict[str, Any]:
        self.catch_up()
        with self.lock:
            by_kind: dict[str, int] = {}
            active_by_kind: dict[str, int] = {}
            for view in self.sanctions.values():
                by_kind[view.kind] = by_kind.get(view.kind, 0) + 1
                if view.state in ("proposed", "active", "issued", "notice_served"):
                    active_by_kind[view.kind] = active_by_kind.get(view.kind, 0) + 1
            transitions: dict[str, int] = {}
            for plan in self.transitions.values():
                transitions[plan["state"]] = transitions.get(plan["state"], 0) + 1
            return {
                "households": len(self.estates),
                "transitions_active": transitions.get("active", 0),
                "transitions_by_state": transitions,
                "sanctions_by_kind": by_kind,
                "sanctions_open_by_kind": active_by_kind,
                "households_penalised": len(
                    {v.household_id for v in self.sanctions.values() if v.state != "withdrawn"}
                ),
                "credit_list_entries_open": sum(
                    1 for v in self.sanctions.values() if v.kind == "credit_list" and v.state == "active"
                ),
                "credit_list_entries_proposed": sum(
                    1 for v in self.sanctions.values() if v.kind == "credit_list" and v.state == "proposed"
                ),
                "repossessions_executed": sum(
                    1 for v in self.sanctions.values() if v.kind == "repossession" and v.state == "executed"
                ),
                "appeals_open": sum(1 for a in self.appeals.values() if a["state"] == "open"),
                "subsidies_awarded": len(self.subsidies),
                "subsidies_total_fen": int(sum(self.subsidies.values(), Decimal(0)) * 100),
                "notices_issued": self.notices_issued,
                "notices_undelivered": len(self.pending_notices),
                "exits_completed": self.exits,
            }
