"""The parameters in force: the files' defaults plus supervisors' dated additions, with their caches.

The rule files (parameters/*.yaml, read by `rules.load_table`) are the defaults; supervisors add dated
values to the `ParameterBook` aggregate. A batch decides many households of a few regions on one date,
so the table is cached per version of the book, the values in force per (region, date) for the current
table, and the book itself once per unit of work. (Named `parameter_book.py`: `parameters/` is the
folder of rule files.) Split out of application.py so that the application module stays readable in
one sitting.
"""

from __future__ import annotations

import weakref
from datetime import date
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from services.eligibility import rules
from services.eligibility.base import Actor, EligibilityBase
from services.eligibility.domain import ParameterBook, RoleRefused
from services.kit.uow import UnitOfWork


class ParameterBookMixin(EligibilityBase):
    """The parameter table and the values in force (cached), and supervisors' additions to the book."""

    defaults: rules.ParameterTable
    _table_cache: tuple[int, rules.ParameterTable] | None
    _in_force_cache: tuple[rules.ParameterTable | None, dict[tuple[str, date], rules.InForce]]
    _books: weakref.WeakKeyDictionary[UnitOfWork, ParameterBook | None]

    def _init_parameter_book(self) -> None:
        """The defaults from the files, and empty caches (called while the application is built)."""
        self.defaults = rules.load_table()
        self._table_cache = None
        self._in_force_cache = (None, {})
        self._books = weakref.WeakKeyDictionary()

    def _book(self, uow: UnitOfWork) -> ParameterBook | None:
        """The parameter book as this unit of work sees it, looked up once per unit of work (a batch
        of facts would otherwise query the store for it once per fact)."""
        if uow not in self._books:
            self._books[uow] = uow.find(ParameterBook.create_id(), ParameterBook)
        return self._books[uow]

    def parameter_table(self, book: ParameterBook | None) -> rules.ParameterTable:
        """Defaults from the files plus supervisors' additions (cached per version of the book)."""
        if book is None:
            return self.defaults
        cached = self._table_cache
        if cached is not None and cached[0] == book.version:
            return cached[1]
        table = self.defaults.with_values(book.parameter_values())
        self._table_cache = (book.version, table)
        return table

    def _in_force(self, table: rules.ParameterTable, region: str, on: date) -> rules.InForce:
        """`rules.parameters_at`, remembered for the current table (a batch decides many households of
        a few regions on one date)."""
        cached_table, values = self._in_force_cache
        if cached_table is not table:
            values = {}
            self._in_force_cache = (table, values)
        found = values.get((region, on))
        if found is None:
            found = values[(region, on)] = rules.parameters_at(table, region, on)
        return found

    def current_table(self) -> rules.ParameterTable:
        book: Any
        try:
            book = self.repository.get(ParameterBook.create_id())
        except AggregateNotFoundError:
            book = None
        return self.parameter_table(book)

    def add_parameter_value(self, value: rules.ParameterValue, actor: Actor, reason: str) -> None:
        if actor.role != "supervisor":
            raise RoleRefused("only a supervisor adds parameter values")

        def work(uow: UnitOfWork) -> None:
            book = self._book(uow)
            if book is None:
                book = ParameterBook()
                uow.add(book)
                self._books[uow] = book
            self.parameter_table(book).check(value)
            book.add_value(
                value.rule,
                value.region,
                value.effective_from,
                value.value,
                value.unit,
                value.legal_reference,
                actor.operator_id,
                reason,
            )

        self._in_uow(work)
