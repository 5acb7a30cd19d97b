"""An inspector's steps on a warning: the investigation capability of `MonitoringApp`.

Each step is dated (today, or earlier when recorded late with a reason, never before the warning or
its last step: `services.kit.dating`); closing a warning, dismissed or rectified, also tells the unit's
watch, so that the detector may raise the condition again only from that day on.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.kit.dating import Dated, happened
from services.kit.store import ServiceApplication
from services.monitoring.domain import OccupancyWarning, UnitWatch
from services.monitoring.errors import NotFound
from services.monitoring.settings import MonitoringSettings


class InvestigationMixin(ServiceApplication):
    """Assign, confirm, dismiss, rectify."""

    config: MonitoringSettings
    lock: threading.RLock

    def catch_up(self) -> None:
        raise NotImplementedError  # MonitoringApp folds its notification log

    def _warning(self, warning_id: UUID) -> OccupancyWarning:
        try:
            warning: OccupancyWarning = self.repository.get(warning_id)
        except AggregateNotFoundError:
            raise NotFound(f"warning {warning_id} does not exist") from None
        return warning

    def _dated(self, warning: OccupancyWarning, on: date | None, late_reason: str | None) -> Dated:
        """The day of a warning's step: today, or earlier when recorded late (inside
        `LATE_RECORDING_DAYS`, with a reason), never before the warning was raised or its last step."""
        not_before, depends_on = warning.not_before()
        return happened(
            on,
            self.today(),
            window_days=self.config.late_recording_days,
            not_before=not_before,
            depends_on=depends_on,
            reason=late_reason,
        )

    def assign(
        self, warning_id: UUID, inspector_id: str, on: date | None = None, late_reason: str | None = None
    ) -> Dated:
        with self.lock:
            warning = self._warning(warning_id)
            day = self._dated(warning, on, late_reason)
            warning.assign(inspector_id, day.on, day)
            self.save(warning)
        self.catch_up()
        return day

    def confirm(
        self,
        warning_id: UUID,
        inspector_id: str,
        finding: str,
        on: date | None = None,
        note: str = "",
        late_reason: str | None = None,
    ) -> Dated:
        with self.lock:
            warning = self._warning(warning_id)
            day = self._dated(warning, on, late_reason)
            warning.confirm(inspector_id, finding, day.on, note, day)
            self.save(warning)
        self.catch_up()
        return day

    def dismiss(
        self,
        warning_id: UUID,
        inspector_id: str,
        reason: str,
        on: date | None = None,
        late_reason: str | None = None,
    ) -> Dated:
        return self._close(
            warning_id, lambda w, day: w.dismiss(inspector_id, reason, day.on, day), on, late_reason
        )

    def rectify(
        self,
        warning_id: UUID,
        operator_id: str,
        on: date | None = None,
        note: str = "",
        late_reason: str | None = None,
    ) -> Dated:
        return self._close(
            warning_id, lambda w, day: w.rectify(operator_id, day.on, note, day), on, late_reason
        )

    def _close(self, warning_id: UUID, step: Any, on: date | None, late_reason: str | None) -> Dated:
        with self.lock:
            warning = self._warning(warning_id)
            day = self._dated(warning, on, late_reason)
            step(warning, day)
            watch: UnitWatch = self.repository.get(UnitWatch.create_id(*warning.unit_ref))
            watch.closed(warning.condition, warning.id, day.on)
            self.save(warning, watch)
        self.catch_up()
        return day
