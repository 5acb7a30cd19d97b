"""The Eligibility application: commands (registration, fact intake, parameters, review steps) and
queries (households, cases, parameters, cross-region checks), composed of one mixin per capability.

| module | capability |
| --- | --- |
| `registrations.py` | register households (one, or a batch), change members, person index, parked facts |
| `intake.py` | department facts (HTTP batch and NATS inbox), monitoring's warnings, the automated review |
| `cross_region.py` | cross-region checks: the sweep's policy and batches, orders, answers, registers |
| `reviews.py` | the manual re-review of a case: findings, approval, assessments, appeals |
| `asking.py` | record requests to departments from a case: ask, answer, decline, escalate, figures |
| `coordinating.py` | cross-department problems for the joint meeting: raise, assign, discuss, resolve |
| `parameter_book.py` | the parameter table in force (files plus supervisors' additions), cached |
| `base.py` | what the mixins share and ask of each other; errors and `Actor` |

This module builds the application and holds its unit-of-work plumbing: HTTP commands of one process
are serialised by a lock and retried on a concurrency conflict with the inbox (optimistic concurrency:
the store refuses a second writer of the same aggregate version). The names other modules import from
here (`EligibilityApp`, the inputs, errors and statuses of its commands) are re-exported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from services.eligibility.asking import AskingMixin
from services.eligibility.base import Actor, NotFound, Refused
from services.eligibility.coordinating import CoordinationMixin
from services.eligibility.cross_region import CrossRegionMixin
from services.eligibility.domain import FactReceipt, RegistrationReceipt
from services.eligibility.intake import INGEST_CHUNK, IntakeMixin, IntakeStatus
from services.eligibility.parameter_book import ParameterBookMixin
from services.eligibility.projection import Population
from services.eligibility.register import RegisterKeeper
from services.eligibility.registrations import (
    REGISTER_CHUNK,
    MemberInput,
    Registration,
    RegistrationsMixin,
    RegistrationStatus,
    TenancyInput,
)
from services.eligibility.reviews import ReviewsMixin
from services.eligibility.settings import EligibilitySettings
from services.kit.clock import Clock
from services.kit.linkage import Keyring, load_keyring
from services.kit.uow import UnitOfWork, run_in_unit_of_work

__all__ = [
    "CONFLICT_RETRIES",
    "INGEST_CHUNK",
    "REGISTER_CHUNK",
    "Actor",
    "EligibilityApp",
    "IntakeStatus",
    "MemberInput",
    "NotFound",
    "Refused",
    "Registration",
    "RegistrationStatus",
    "TenancyInput",
]

T = TypeVar("T")
CONFLICT_RETRIES = 5


class EligibilityApp(
    RegistrationsMixin,
    IntakeMixin,
    CrossRegionMixin,
    ReviewsMixin,
    AskingMixin,
    CoordinationMixin,
    ParameterBookMixin,
):
    name = "Eligibility"
    uncached = (FactReceipt, RegistrationReceipt)

    def __init__(
        self,
        settings: EligibilitySettings,
        env: dict[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = settings
        self._init_parameter_book()
        self._write_lock = threading.RLock()
        keys = settings.linkage_keys_file
        keyring = Keyring() if keys is None else load_keyring(keys, settings.home_region)
        self.register_keeper = RegisterKeeper(keyring, settings.home_region)
        super().__init__(settings, env, clock)
        self.population = Population(self)

    # -- unit-of-work plumbing for HTTP commands ---------------------------------------------------------

    def _in_uow(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run `work` in a unit of work and commit it; redo it from scratch on a write conflict."""
        with self._write_lock:
            return run_in_unit_of_work(self, work, attempts=CONFLICT_RETRIES)
