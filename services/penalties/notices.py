"""Notices: every decision that touches a household writes one in plain language (what, why, amounts,
deadline, how to appeal), addressed to the flat, never a name; the delivery loop records delivery."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.kit.uow import UnitOfWork
from services.penalties.core import MAX_RECORDED_FAILURES, NotFound, PenaltiesCore
from services.penalties.domain import Notice, Tenancy


class Notices(PenaltiesCore):
    def issue_notice(
        self,
        uow: UnitOfWork,
        tenancy: Tenancy,
        kind: str,
        reference: UUID,
        on: date,
        title: str,
        what: str,
        why: str,
        amounts: list[tuple[str, Decimal]] = (),  # type: ignore[assignment]
        deadline: date | None = None,
        appeal_until: date | None = None,
        appeal: str = "",
    ) -> Notice | None:
        """A notice: what, why, amounts, deadline, how to appeal; addressed to the flat, never a name."""
        notice_id = Notice.create_id(tenancy.household_id, kind, reference)
        if uow.find(notice_id, Notice) is not None:
            return None  # the same decision notified before (a retried command)
        parts = [f"To {tenancy.address}.", f"What: {what}", f"Why: {why}"]
        if amounts:
            parts.append(
                "Amounts: " + "; ".join(f"{name}: {value:.2f} yuan" for name, value in amounts) + "."
            )
        if deadline is not None:
            parts.append(f"Deadline: {deadline.isoformat()}.")
        if appeal:
            parts.append(appeal)
        notice = Notice(
            tenancy.household_id,
            tenancy.estate,
            kind,
            reference,
            on,
            title,
            "\n".join(parts),
            [[name, f"{value:.2f}"] for name, value in amounts],
            deadline,
            appeal_until,
        )
        uow.add(notice)
        tenancy.link_notice(notice.id)
        return notice

    def notice_dict(self, notice: Notice) -> dict[str, Any]:
        return {
            "notice_id": str(notice.id),
            "household_id": str(notice.household_id),
            "estate": notice.estate,
            "kind": notice.kind,
            "reference": str(notice.reference),
            "issued_on": notice.issued_on.isoformat(),
            "title": notice.title,
            "text": notice.text,
            "amounts": [{"label": name, "yuan": value} for name, value in notice.amounts],
            "deadline": None if notice.deadline is None else notice.deadline.isoformat(),
            "appeal_until": None if notice.appeal_until is None else notice.appeal_until.isoformat(),
            "delivered": [{"channel": d["channel"], "on": d["on"].isoformat()} for d in notice.deliveries],
        }

    def notice_payload(self, notice_id: UUID) -> dict[str, Any]:
        try:
            notice: Notice = self.repository.get(notice_id)
        except AggregateNotFoundError:
            raise NotFound(f"notice {notice_id} does not exist") from None
        return self.notice_dict(notice)

    def record_delivery(self, notice_id: UUID, channel: str, error: str | None) -> None:
        def command(uow: UnitOfWork) -> None:
            notice = uow.find(notice_id, Notice)
            if notice is None:
                raise NotFound(f"notice {notice_id} does not exist")
            if error is None:
                if not notice.delivered:
                    notice.record_delivery(channel, self.today(), "")
            elif notice.failures < MAX_RECORDED_FAILURES:
                notice.record_failure(channel, error[:500])

        self.run(command)
