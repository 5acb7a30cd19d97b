"""Penalties' refusals: what the HTTP layer maps to 409, 422 and 403. No I/O."""

from __future__ import annotations


class RuleError(ValueError):
    """A command that does not follow from the current state (HTTP 409)."""


class BasisError(ValueError):
    """A sanction without a basis this service has seen (HTTP 422)."""


class NotPermitted(Exception):
    """A step this operator may not take, whatever the state (HTTP 403); `title` names the rule."""

    title = "Not allowed"


class RoleRefused(NotPermitted):
    title = "Role not allowed"


class FourEyesViolation(NotPermitted):
    title = "Four-eyes principle"


class FourEyesConflict(FourEyesViolation):
    """An irreversible step (a repossession's execution, a credit-list entry) confirmed by the person who
    proposed it: it needs a second person (HTTP 403, as every four-eyes refusal in the platform)."""
