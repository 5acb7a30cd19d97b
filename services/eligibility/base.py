"""What the capability modules of the Eligibility application share, and what they ask of each other.

`EligibilityApp` (application.py) is composed of one mixin per capability: registrations.py,
intake.py, cross_region.py, reviews.py, parameter_book.py. Each mixin derives from `EligibilityBase`,
which names the state the application gives them (its settings, register keeper, read model) and the
methods one capability calls on another (intake's decision, the register refresh, the parameters in
force, the unit of work). Those are declared abstract for the type checker only: mypy refuses to build
an application that lacks one, and at run time each name is found on the mixin that defines it.

The errors and the `Actor` of the commands live here because several capabilities raise or take them;
nothing here imports the application, so no capability module imports it either.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from contracts.department import DepartmentFactReported
from services.eligibility import rules
from services.eligibility.domain import Household, ParameterBook
from services.eligibility.projection import Population
from services.eligibility.record_request import RecordRequest
from services.eligibility.register import RegisterKeeper
from services.eligibility.settings import EligibilitySettings
from services.kit.store import ServiceApplication
from services.kit.uow import UnitOfWork

if TYPE_CHECKING:
    from services.eligibility.intake import IntakeStatus

T = TypeVar("T")
A = TypeVar("A")


def find_household(uow: UnitOfWork, household_id: UUID) -> Household | None:
    """The household in `uow`, or None when there is none by that id (also when the id is another
    aggregate's: the repository refuses to load it as a household, TypeError)."""
    try:
        return uow.find(household_id, Household)
    except TypeError:
        return None


class NotFound(LookupError):
    """No such household, case or rule."""


class Refused(ValueError):
    """A command the current state refuses (e.g. a person already in another household)."""


@dataclass(frozen=True)
class Actor:
    """Who does a step, for the accountability trail (the gateway authenticates them)."""

    operator_id: str
    role: str


class EligibilityBase(ServiceApplication):
    """The base of every capability mixin of `EligibilityApp`."""

    config: EligibilitySettings
    register_keeper: RegisterKeeper
    """The register peers are answered from (services/eligibility/register.py)."""
    population: Population
    """The read model of households and cases (services/eligibility/projection.py)."""

    def stored(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        """The aggregate as stored (through the cache), or `NotFound` naming `what` when there is none
        of that kind by that id."""
        try:
            found: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"no {what} {aggregate_id}") from None
        if not isinstance(found, kind):
            raise NotFound(f"no {what} {aggregate_id}")
        return found

    if TYPE_CHECKING:
        # -- application.py -----------------------------------------------------------------------------

        @abstractmethod
        def _in_uow(self, work: Callable[[UnitOfWork], T]) -> T:
            """Run `work` in a unit of work and commit it; redo it from scratch on a write conflict."""

        # -- registrations.py ---------------------------------------------------------------------------

        @abstractmethod
        def _household(self, uow: UnitOfWork, household_id: UUID) -> Household:
            """The household as `uow` sees it, or `NotFound`."""

        # -- intake.py ----------------------------------------------------------------------------------

        @abstractmethod
        def evaluate_household(self, uow: UnitOfWork, household: Household) -> rules.Decision:
            """Automated first review; a household newly failing opens a review case."""

        @abstractmethod
        def evaluate_before_commit(self, uow: UnitOfWork, household_id: UUID) -> None:
            """Decide on the household once, just before `uow` commits."""

        @abstractmethod
        def intake_fact(self, uow: UnitOfWork, report: DepartmentFactReported) -> IntakeStatus:
            """Record one department fact on its household (or park it), in `uow`."""

        @abstractmethod
        def prefetch_receipts(self, uow: UnitOfWork, reports: Sequence[DepartmentFactReported]) -> None:
            """One store query for the receipts of a batch of facts."""

        # -- asking.py ----------------------------------------------------------------------------------

        @abstractmethod
        def request_escalation(self, request: RecordRequest, today: date) -> str | None:
            """`overdue`, `joint_meeting` or None."""

        # -- cross_region.py ----------------------------------------------------------------------------

        @abstractmethod
        def refresh_register(self, uow: UnitOfWork, household: Household) -> None:
            """Bring the household's register entry up to date."""

        # -- parameter_book.py --------------------------------------------------------------------------

        @abstractmethod
        def _book(self, uow: UnitOfWork) -> ParameterBook | None:
            """The parameter book as this unit of work sees it."""

        @abstractmethod
        def parameter_table(self, book: ParameterBook | None) -> rules.ParameterTable:
            """Defaults from the files plus supervisors' additions."""

        @abstractmethod
        def _in_force(self, table: rules.ParameterTable, region: str, on: date) -> rules.InForce:
            """`rules.parameters_at`, remembered for the current table."""

        @abstractmethod
        def current_table(self) -> rules.ParameterTable:
            """The parameter table of the stored book."""
