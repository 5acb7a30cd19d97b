"""Integration events of the penalties context: payloads and their catalogue entries.

The catalogue (`contracts.catalogue`) gathers `EVENTS` from here; nothing else in this module is
code, only data.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from contracts.base import Contract
from contracts.identifiers import Label, OperatorId, Text
from contracts.money import Yuan
from contracts.spec import EventSpec
from contracts.times import Day

__all__ = [
    "EVENTS",
    "ExitCompleted",
    "MonthlyRent",
    "NoticeDelivered",
    "NoticeIssued",
    "PenaltyAppealLodged",
    "PenaltyAppealResolved",
    "PurchaseHelpFlagged",
    "RentAdjusted",
    "SanctionChanged",
    "SanctionImposed",
    "SubsidyAwarded",
    "TransitionClosed",
    "TransitionStarted",
    "VoluntaryExitApplied",
]

Month = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
Rate = Annotated[Decimal, Field(ge=0, le=10, max_digits=6, decimal_places=4)]
SanctionKind = Literal["rent_surcharge", "credit_list", "repossession"]
"""What a sanction does: +x % rent, an entry in the credit (dishonesty) list, or taking the flat back."""
Violation = Literal["sublet", "lend", "vacant", "concealed_income", "concealed_assets", "overstaying"]
"""The confirmed violation a sanction punishes (monitoring's three occupancies, concealment found by a
review, staying past the exit date)."""
BasisKind = Literal["warning", "review", "transition"]
"""What a sanction rests on: a monitoring warning confirmed on site, an eligibility review, or an
overdue transition plan."""


class ExitCompleted(Contract):
    """The household has left its subsidised flat: keys returned, or the repossession executed.

    The end of the household's tenancy for every follower: monitoring stops watching the flat for it,
    penalties closes its rent ledger, the flat may be let again.
    """

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    estate: Label = Field(description="Housing estate of the flat it left.")
    building: Label = Field(description="Building in the estate.")
    unit: Label = Field(description="Flat in the building.")
    completed_on: Day = Field(description="Day the flat was handed back.")
    how: Label = Field(description="`keys_returned` or `repossessed`.")
    recorded_by: OperatorId = Field(description="Operator who recorded the hand-back.")


class MonthlyRent(Contract):
    """One month of a schedule: the rent due that month."""

    month: Month = Field(description="`YYYY-MM`.")
    rent: Yuan = Field(description="Rent due that month (base plus the adjustment), rounded half-up to fen.")


class TransitionStarted(Contract):
    """A household decided `transition` (or `exit`) got its plan: stepped rent and the date it must leave."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    transition_id: UUID = Field(description="The plan.")
    review_id: UUID = Field(description="The eligibility decision the plan rests on.")
    estate: Label
    route: Literal["transition", "exit"]
    base_rent: Yuan
    first_month: Month = Field(description="First month of the plan (the month after the decision).")
    months: int = Field(ge=0, le=60, description="Length of the plan in months (0 for a plain exit).")
    monthly_rise: Rate = Field(description="Monthly rent rise as a fraction (0.10 = 10 %).")
    rule: Literal["compound", "simple"] = Field(description="Compounding, or simple rises on the base.")
    schedule: list[MonthlyRent] = Field(description="Rent due in each month of the plan.")
    exit_due_on: Day = Field(description="Last day in the flat; after it the household is overdue.")


class TransitionClosed(Contract):
    """A plan ended: the household left, became overdue (a violation), or the decision was withdrawn."""

    household_id: UUID
    transition_id: UUID
    how: Literal["exited", "overdue", "withdrawn"]
    closed_on: Day


class RentAdjusted(Contract):
    """A line of a tenancy's rent ledger changed: an adjustment started, ended, was put on hold (an open
    appeal) or released, or was cancelled from its start (a decision withdrawn)."""

    household_id: UUID
    adjustment_id: UUID
    action: Literal["started", "ended", "held", "released", "cancelled"]
    kind: Literal["transition", "surcharge"]
    cause_id: UUID = Field(description="The decision the adjustment rests on (review, sanction).")
    effective_month: Month = Field(description="Month the action takes effect.")
    base_rent: Yuan
    explanation: Text = Field(description="The ledger line a tenant reads.")


class VoluntaryExitApplied(Contract):
    """A household applied to leave voluntarily (or eligibility decided the voluntary route)."""

    household_id: UUID
    estate: Label
    applied_on: Day
    low_income: bool = Field(description="As eligibility last decided; decides the one-time subsidy.")
    wants_to_buy: bool


class SubsidyAwarded(Contract):
    """The one-time voluntary-exit subsidy: at most one per household, ever."""

    household_id: UUID
    subsidy_id: UUID = Field(description="Derived from the household id: the same for every attempt.")
    estate: Label
    amount: Yuan
    awarded_on: Day


class PurchaseHelpFlagged(Contract):
    """An exiting household wants to buy: resettlement's priority purchase and loan-rate help."""

    household_id: UUID
    estate: Label
    flagged_on: Day
    source: Literal["exit_decision", "voluntary_application"]


class SanctionImposed(Contract):
    """A sanction for a confirmed violation, naming the warning, review or plan it rests on."""

    household_id: UUID
    sanction_id: UUID
    kind: SanctionKind
    violation: Violation
    basis_kind: BasisKind
    basis_id: UUID = Field(description="The warning, review or transition plan the sanction rests on.")
    estate: Label
    imposed_on: Day
    effective_from: Day
    ends_on: Day | None = Field(description="Credit-list entries end; other sanctions run until lifted.")
    surcharge_rate: Rate | None = Field(description="For `rent_surcharge`: the rate (0.50 = +50 %).")
    appeal_until: Day = Field(description="Last day to appeal.")
    imposed_by: OperatorId | None = Field(description="Operator, or null when imposed automatically.")


class SanctionChanged(Contract):
    """A step in a sanction's life: suspended by an appeal and resumed, lifted (rectified), withdrawn,
    and for a repossession notice served (with its deadline) and executed."""

    household_id: UUID
    sanction_id: UUID
    kind: SanctionKind
    state: Literal["suspended", "resumed", "lifted", "withdrawn", "notice_served", "executed"]
    on: Day
    deadline: Day | None = Field(description="For `notice_served`: the day the flat must be handed back.")
    reason: Text
    by: OperatorId | None


class NoticeIssued(Contract):
    """A plain-language notice to the household (never a name or an ID number)."""

    household_id: UUID
    notice_id: UUID
    estate: Label
    kind: Label
    issued_on: Day
    deadline: Day | None
    appeal_until: Day | None


class NoticeDelivered(Contract):
    """The notifier handed the notice over (file, webhook)."""

    household_id: UUID
    notice_id: UUID
    channel: Label
    delivered_on: Day


class PenaltyAppealLodged(Contract):
    """The household appealed a sanction within the window; the sanction is suspended meanwhile."""

    household_id: UUID
    appeal_id: UUID
    sanction_id: UUID
    lodged_on: Day


class PenaltyAppealResolved(Contract):
    """The appeal was decided: `upheld` withdraws the sanction, `dismissed` lets it run again."""

    household_id: UUID
    appeal_id: UUID
    sanction_id: UUID
    outcome: Literal["upheld", "dismissed"]
    resolved_on: Day
    resolved_by: OperatorId


def _penalties(name: str, payload: type[Contract], summary: str, consumers: tuple[str, ...]) -> EventSpec:
    return EventSpec("penalties", name, 1, payload, summary, "penalties", consumers)


EVENTS: Final[tuple[EventSpec, ...]] = (
    EventSpec(
        context="penalties",
        name="exit-completed",
        version=1,
        payload=ExitCompleted,
        summary="A household handed its flat back (keys returned or repossession executed).",
        producer="penalties",
        consumers=("eligibility", "monitoring", "resettlement"),
    ),
    _penalties(
        "transition-started",
        TransitionStarted,
        "A transition (or exit) plan: monthly rent schedule and the date the household must leave.",
        ("resettlement", "training"),
    ),
    _penalties(
        "transition-closed",
        TransitionClosed,
        "A plan ended: exited, overdue (a violation follows) or withdrawn.",
        ("resettlement",),
    ),
    _penalties(
        "rent-adjusted",
        RentAdjusted,
        "A rent-ledger line started, ended, was held by an appeal, released or cancelled.",
        (),
    ),
    _penalties(
        "voluntary-exit-applied",
        VoluntaryExitApplied,
        "A household applied to leave voluntarily.",
        ("resettlement", "training"),
    ),
    _penalties(
        "subsidy-awarded",
        SubsidyAwarded,
        "The one-time voluntary-exit subsidy of a low-income household (once per household).",
        (),
    ),
    _penalties(
        "purchase-help-flagged",
        PurchaseHelpFlagged,
        "An exiting household wants to buy: priority purchase and loan-rate help.",
        ("resettlement",),
    ),
    _penalties(
        "sanction-imposed",
        SanctionImposed,
        "A rent surcharge, credit-list entry or repossession order, with the basis it rests on.",
        ("eligibility",),
    ),
    _penalties(
        "sanction-changed",
        SanctionChanged,
        "A sanction suspended, resumed, lifted, withdrawn; a repossession served or executed.",
        ("eligibility",),
    ),
    _penalties(
        "notice-issued",
        NoticeIssued,
        "A plain-language notice to a household (what, why, amounts, deadline, how to appeal).",
        (),
    ),
    _penalties(
        "notice-delivered",
        NoticeDelivered,
        "A notice was delivered through the notifier.",
        (),
    ),
    _penalties(
        "appeal-lodged",
        PenaltyAppealLodged,
        "A household appealed a sanction; the sanction is suspended while the appeal is open.",
        (),
    ),
    _penalties(
        "appeal-resolved",
        PenaltyAppealResolved,
        "An appeal against a sanction was upheld (sanction withdrawn) or dismissed.",
        (),
    ),
)
"""Every event the penalties service publishes, every version."""
