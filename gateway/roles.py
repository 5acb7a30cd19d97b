"""Roles, the scopes each role holds, and who an authenticated caller is (`Principal`).

A route names the scope it needs; a role is only a bundle of scopes (the table is the one in
gateway/README.md). Object-level limits ride on the principal: `estates` (None = every estate) and, for
a department system, the one department whose facts it may push.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from contracts.department import REPORTS

Role = Literal[
    "reviewer", "supervisor", "inspector", "auditor", "admin", "assessor", "department", "registry"
]
ROLES: tuple[Role, ...] = (
    "reviewer",
    "supervisor",
    "inspector",
    "auditor",
    "admin",
    "assessor",
    "department",
    "registry",
)
SYSTEM_ROLES: frozenset[Role] = frozenset({"department", "registry"})
"""Roles of systems, which log in with client credentials: a department pushing its facts, the housing
office's register sending its households (`POST /api/registrations`)."""

# Every scope a route may require.
SCOPES: dict[str, str] = {
    "households:read": "households, their facts and automated decisions",
    "households:write": "register households",
    "credentials:write": "enrol the door credentials (cards, faces) of registered members",
    "personal:read": "personal amounts (incomes, assets) and birth dates, unmasked",
    "cases:read": "review cases and the review queue",
    "cases:review": "record findings (the first pair of eyes)",
    "cases:approve": "approve or send back (the second pair of eyes); decide an exit decision's appeal",
    "assessments:read": "the third-party assessments assigned to oneself",
    "assessments:report": "file the report of an assessment assigned to oneself",
    "parameters:read": "policy parameters and the what-if simulator",
    "parameters:write": "add dated parameter values",
    "warnings:read": "monitoring warnings",
    "warnings:write": "assign, confirm, dismiss, rectify warnings",
    "sanctions:read": "sanctions, transitions, appeals, rent ledgers, notices",
    "sanctions:write": "impose (a credit-list entry: propose), serve, propose executing, lift, withdraw "
    "sanctions; run the overdue check",
    "sanctions:execute": "execute a repossession, enter a credit-list entry: the second pair of eyes on "
    "another officer's proposal",
    "exits:write": "record a voluntary-exit application and the hand-back of keys",
    "appeals:lodge": "lodge a household's appeal against a sanction",
    "appeals:decide": "uphold or dismiss an appeal against a sanction (not one's own sanction)",
    "placements:read": "resettlement pools, cases and placements",
    "placements:write": "offers accepted or declined, move-in, close, withdraw; units; the expiry sweep",
    "training:read": "courses, referrals, a household's training",
    "training:write": "courses, referrals, enrolment, attendance, completion, employment",
    "federation:read": "cross-region exchanges and checks",
    "cross-region:order": "order the cross-region check of a region's or an estate's households again",
    "figures:read": "the bureau's dashboard",
    "facts:write": "push department facts (own department and fact kinds only)",
    "requests:answer": "the record requests addressed to your department: read and answer them",
}

_READ_ALL = (
    "households:read",
    "cases:read",
    "parameters:read",
    "warnings:read",
    "sanctions:read",
    "placements:read",
    "training:read",
    "figures:read",
)

# Steps on a household's sanctions and exit: the roles penalties accepts for them.
_PENALTY_STEPS = ("sanctions:write", "exits:write", "appeals:lodge")
# Steps of resettlement and training: the bureau's case workers and its administrator.
_CASEWORK = ("placements:write", "training:write")

ROLE_SCOPES: dict[Role, frozenset[str]] = {
    "reviewer": frozenset({*_READ_ALL, "personal:read", "cases:review", *_PENALTY_STEPS, *_CASEWORK}),
    "supervisor": frozenset(
        {
            *_READ_ALL,
            "personal:read",
            "cases:review",
            "cases:approve",
            "parameters:write",
            "cross-region:order",
            *_PENALTY_STEPS,
            "sanctions:execute",
            "appeals:decide",
            *_CASEWORK,
        }
    ),
    "inspector": frozenset(
        {
            "households:read",
            "warnings:read",
            "warnings:write",
            "sanctions:read",
            "figures:read",
            *_PENALTY_STEPS,
        }
    ),
    "auditor": frozenset({*_READ_ALL, "federation:read"}),
    "admin": frozenset(
        {
            *_READ_ALL,
            "federation:read",
            "households:write",
            "credentials:write",
            *_PENALTY_STEPS,
            "appeals:decide",
            *_CASEWORK,
        }
    ),
    # an external third-party assessor: its own assessments (masked), its reports, nothing else
    "assessor": frozenset({"assessments:read", "assessments:report"}),
    "department": frozenset({"facts:write", "requests:answer"}),
    "registry": frozenset({"households:write", "credentials:write"}),
}

DEPARTMENT_KINDS = REPORTS
"""The fact kinds each department may report (`contracts.department.REPORTS`)."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    subject: str
    role: Role
    scopes: frozenset[str]
    estates: frozenset[str] | None = None
    department: str | None = None
    issuer: str = ""
    token_id: str = ""
    expires_at: float = 0.0

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def sees_estate(self, estate: object) -> bool:
        return self.estates is None or (isinstance(estate, str) and estate in self.estates)


def scopes_for(role: str, granted: frozenset[str] | None = None) -> frozenset[str]:
    """The role's scopes, narrowed to `granted` when a token names fewer (never widened)."""
    base = ROLE_SCOPES.get(cast(Role, role), frozenset())
    return base if granted is None else base & granted
