"""Identifiers and codes shared by the contracts.

A person's raw ID number (resident identity card number) NEVER appears in any contract, header or
subject: not in a payload, not in an envelope, not in a log line derived from one. Where a contract must
say "this person", it carries an `IdHash`: the lowercase hex HMAC-SHA256 of the normalised ID number
under a key that the departments and the housing authority (or, across cities, the two peers) share.
Equal hashes let records be matched; the number cannot be recovered from the hash without the key.
Households and members are otherwise named by opaque UUIDs issued by the eligibility service.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import AfterValidator, Field, StringConstraints

__all__ = [
    "ID_NUMBER_PATTERN",
    "NOT_AN_ID_NUMBER",
    "CityCode",
    "IdHash",
    "Label",
    "OperatorId",
    "ServiceName",
    "Text",
    "no_id_number",
]

CityCode = Annotated[str, StringConstraints(strict=True, pattern=r"^CN-[A-Z]{2}$")]
"""A city as `CN-` plus two capital letters, e.g. `CN-FS` (Foshan, the home city) or `CN-GZ` (Guangzhou);
also the federation `keyid`, so the same code names a city everywhere."""

IdHash = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{64}$")]
"""HMAC-SHA256 of a normalised ID number as 64 lowercase hex characters; never the number itself."""

ServiceName = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
"""A platform service (`eligibility`, `penalties`, ...). It becomes a NATS subject token and a
`Nats-Msg-Id` prefix, so it has no dots, spaces or wildcards."""

OperatorId = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")]
"""An operator account as the gateway authenticates it (a login or a UUID): who did a step, for the
accountability trail. An account id, not a person's name."""

ID_NUMBER_PATTERN: Final = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
"""The shape of a resident identity card number (GB 11643: 17 digits and a check digit or X), wherever
it appears in a text: what logs mask and what free text in a contract may not carry."""


def no_id_number(value: str) -> str:
    """Refuse free text that carries an ID number: a contract never does, not even in a note.

    A department whose own references are 18 bare digits of that shape must prefix them (`MZ-...`):
    the platform cannot tell them from an ID number, and neither could anyone reading the stream.
    """
    if ID_NUMBER_PATTERN.search(value):
        raise ValueError(
            "contains what looks like a resident ID number; ID numbers never travel in contracts"
        )
    return value


NOT_AN_ID_NUMBER: Final = Field(
    json_schema_extra={"not": {"pattern": "(^|[^0-9])[1-9][0-9]{16}[0-9Xx]([^0-9]|$)"}}
)
"""`no_id_number` as the schema says it (beside the validator): what a client may send, exactly."""

Label = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(no_id_number), NOT_AN_ID_NUMBER
]
"""A short name: an estate, a rule, a kind, a course."""

Text = Annotated[str, StringConstraints(max_length=2000), AfterValidator(no_id_number), NOT_AN_ID_NUMBER]
"""Free text a person reads: an explanation, a comment, a reason."""
