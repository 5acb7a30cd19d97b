"""Crafted households, credentials and signal histories for monitoring's tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from services.monitoring.credentials import CredentialHasher
from services.monitoring.domain import Credential, Household, OccupancyBook, Register, UnitRef
from tests.support.identity import OperatorAuth

FOSHAN = timezone(timedelta(hours=8))
START = date(2026, 9, 1)
UNIT = UnitRef("Chancheng Garden", "3", "1204")
OTHER_UNIT = UnitRef("Nanhai Court", "1", "0501")
HASHER = CredentialHasher(b"test-credential-key-0123456789")
INSPECTOR = OperatorAuth("inspector.wu", "inspector", "monitoring")
"""The HTTP tests' caller: an inspector takes a warning's steps in her own name."""


def card(token: str) -> str:
    """The book's and register's key of card `token` (its keyed digest)."""
    return HASHER.key("card", token)


class World:
    """A register and a book, fed the way the service feeds them (domain events, folded signals)."""

    def __init__(self) -> None:
        self.register = Register()
        self.book = OccupancyBook(ZoneInfo("Asia/Shanghai"), retention_days=120)
        self.households: dict[UnitRef, Household] = {}

    def household(self, unit: UnitRef, members: int = 1, tenancy_start: date = date(2020, 1, 1)) -> Household:
        household = Household(uuid4(), *unit, tenancy_start, [uuid4() for _ in range(members)])
        self._apply(household)
        self.households[unit] = household
        return household

    def enrol(self, credential: str, member: UUID) -> str:
        self._apply(Credential("card", card(credential), member))
        return card(credential)

    def excuse(self, unit: UnitRef, member: UUID, start: date, end: date) -> None:
        household = self.households[unit]
        household.excuse_absence(member, start, end, "hospital stay")
        self._apply(household)

    def _apply(self, aggregate: Any) -> None:
        for event in aggregate.collect_events():
            self.register.apply(event)

    def open_door(self, unit: UnitRef, credential: str, at: datetime) -> None:
        household = self.register.by_unit[unit]
        self.book.record_access(self.register, unit, household, card(credential), at)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=FOSHAN)


def days(first: date, count: int, step: int = 1) -> Iterable[date]:
    return (first + timedelta(days=i) for i in range(0, count, step))


def door_signal(unit: UnitRef, credential: str, at: datetime, direction: str = "in") -> dict[str, Any]:
    return {
        "estate": unit.estate,
        "building": unit.building,
        "unit": unit.unit,
        "credential_kind": "card",
        "credential_id": credential,
        "at": at.astimezone(UTC).isoformat(),
        "direction": direction,
    }
