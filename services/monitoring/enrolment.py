"""Who may open which door: the register-change capability of `MonitoringApp` (door credentials,
one or a batch, and excused absences).

A batch is how credentials really arrive (the housing office issues a flat's cards when it registers
the household, thousands a day at a city's start): each line is checked against the register on its
own, and the lines that can be enrolled are saved in one transaction, so a batch of 5,000 is one
commit, not 5,000. A line naming a member no household of this city holds, or a flat outside the
caller's estates, is answered as such and enrolls nothing; the other lines go in.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.kit.store import ServiceApplication
from services.monitoring.credentials import CredentialHasher
from services.monitoring.domain import Credential, Household, Register, UnitRef
from services.monitoring.errors import NotFound


@dataclass(frozen=True)
class Enrolment:
    """One line of a batch: a card or face credential for a registered member."""

    line: int
    kind: str
    credential_id: str
    member_id: UUID


class EnrolmentMixin(ServiceApplication):
    """Credentials (one, a batch) and excused absences."""

    hasher: CredentialHasher
    lock: threading.RLock
    register: Register

    def catch_up(self) -> None:
        raise NotImplementedError  # MonitoringApp folds its notification log

    def enrol_credential(self, kind: str, credential_id: str, member_id: UUID) -> UnitRef:
        """Enrol (or move) a door credential to a registered member; returns the member's unit.

        The token itself is not stored: only its keyed digest (`services.monitoring.credentials`)."""
        key = self.hasher.key(kind, credential_id)
        self.catch_up()
        with self.lock:
            household_id = self.register.member_household.get(member_id)
            if household_id is None:
                raise NotFound(f"member {member_id} is in no registered household")
            unit = self.register.households[household_id].unit
            try:
                credential: Credential = self.repository.get(Credential.create_id(key))
            except AggregateNotFoundError:
                credential = Credential(kind, key, member_id)
            else:
                if credential.member_id == member_id:
                    return unit
                credential.reassign(member_id)
            self.save(credential)
        self.catch_up()
        return unit

    def enrol_credentials(
        self, lines: Sequence[Enrolment], estates: frozenset[str] | None = None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """A batch: (results, problems), each naming its line. A result's status is `enrolled` (new),
        `moved` (the credential was another member's) or `unchanged`; a problem is an unknown member
        (404) or a flat outside `estates` (403). The enrolled and moved lines are one commit."""
        results: list[dict[str, Any]] = []
        problems: list[dict[str, Any]] = []
        self.catch_up()
        with self.lock:
            changed: dict[str, Credential] = {}
            for line in lines:
                household_id = self.register.member_household.get(line.member_id)
                if household_id is None:
                    detail = f"member {line.member_id} is in no registered household"
                    problems.append(_problem(line.line, 404, detail))
                    continue
                unit = self.register.households[household_id].unit
                if estates is not None and unit.estate not in estates:
                    detail = "that flat is outside the estates you are assigned"
                    problems.append(_problem(line.line, 403, detail))
                    continue
                key = self.hasher.key(line.kind, line.credential_id)
                status = self._enrol_one(key, line, changed)
                place = {"estate": unit.estate, "building": unit.building, "unit": unit.unit}
                results.append({"line": line.line, "status": status, **place})
            if changed:
                self.save(*changed.values())
        self.catch_up()
        return results, problems

    def _enrol_one(self, key: str, line: Enrolment, changed: dict[str, Credential]) -> str:
        """The credential of `key` given to the line's member, in `changed` when it must be saved."""
        credential = changed.get(key)
        if credential is None:
            holder = self.register.credentials.get(key)
            if holder is None:
                changed[key] = Credential(line.kind, key, line.member_id)
                return "enrolled"
            if holder == line.member_id:
                return "unchanged"
            credential = changed[key] = self.repository.get(Credential.create_id(key))
        if credential.member_id == line.member_id:
            return "unchanged"
        credential.reassign(line.member_id)
        return "moved"

    def excuse_absence(
        self, household_id: UUID, member_id: UUID, start: date, end: date, reason: str
    ) -> None:
        with self.lock:
            try:
                household: Household = self.repository.get(household_id)
            except AggregateNotFoundError:
                raise NotFound(f"household {household_id} is not registered here") from None
            if member_id not in household.members:
                raise NotFound(f"member {member_id} is not in household {household_id}")
            household.excuse_absence(member_id, start, end, reason)
            self.save(household)
        self.catch_up()


def _problem(line: int, status: int, detail: str) -> dict[str, Any]:
    title = "Unknown member" if status == 404 else "Outside your estates"
    return {"type": "about:blank", "title": title, "status": status, "line": line, "detail": detail}
