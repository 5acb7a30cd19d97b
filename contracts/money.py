"""Quantities that cross service boundaries as exact decimals: money (`Yuan`) and area (`SquareMetres`).

Why strings: a JSON number is a binary float to most parsers, and 3960.01 yuan must stay 3960.01 when an
exit threshold is compared against it. Both types therefore serialise as a JSON string with exactly two
decimal places ("3960.00"), and refuse floats on input: a float has already lost the exact value, so
accepting it would hide the loss. Accepted on input: a decimal string ("3960", "3960.5", "3960.01"),
an integer, or a `Decimal`; never a float, a bool, an exponent, a sign, or more than two decimal places.
In Python (`model_dump()`) they stay `Decimal`; only JSON output is text.
Both are non-negative: every amount and area in the contracts is a magnitude (an income, a rent, an
asset total, a floor area); a signed quantity would be a new type, not a negative `Yuan`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Final

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

__all__ = ["SquareMetres", "SquareMetresText", "Yuan", "YuanText"]

_CENT: Final = Decimal("0.01")
_YUAN_INTEGER_DIGITS: Final = 12
_AREA_INTEGER_DIGITS: Final = 7


def _exact_decimal_input(integer_digits: int) -> BeforeValidator:
    """A validator letting through only inputs that carry an exact decimal value."""
    text = re.compile(rf"[0-9]{{1,{integer_digits}}}(\.[0-9]{{1,2}})?")

    def check(value: object) -> object:
        if isinstance(value, bool | float):
            raise ValueError('must be a decimal string such as "3960.00", not a float or a bool')
        if isinstance(value, str) and text.fullmatch(value) is None:
            raise ValueError(
                f"must be a decimal string with at most {integer_digits} integer digits and 2 decimals"
            )
        if not isinstance(value, str | int | Decimal):
            raise ValueError("must be a decimal string, an integer or a Decimal")
        return value

    return BeforeValidator(check)


def _to_cents(value: Decimal) -> Decimal:
    """One representation per value, so that equal amounts are equal objects and print the same."""
    return value.quantize(_CENT)


def _two_places(value: Decimal) -> str:
    return f"{value:.2f}"


Yuan = Annotated[
    Decimal,
    _exact_decimal_input(_YUAN_INTEGER_DIGITS),
    Field(ge=0, max_digits=_YUAN_INTEGER_DIGITS + 2, decimal_places=2),
    AfterValidator(_to_cents),
    PlainSerializer(_two_places, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^[0-9]{{1,{_YUAN_INTEGER_DIGITS}}}(\.[0-9]{{1,2}})?$",
            "description": "Amount in yuan (CNY) as a decimal string; written with exactly 2 decimals.",
            "examples": ["3960.00"],
        },
        mode="validation",
    ),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^[0-9]{{1,{_YUAN_INTEGER_DIGITS}}}\.[0-9]{{2}}$",
            "description": "Amount in yuan (CNY) as a decimal string with exactly 2 decimals.",
            "examples": ["3960.00"],
        },
        mode="serialization",
    ),
]
"""Non-negative amount of yuan, exact to the fen; a JSON string on the wire."""

SquareMetres = Annotated[
    Decimal,
    _exact_decimal_input(_AREA_INTEGER_DIGITS),
    Field(ge=0, max_digits=_AREA_INTEGER_DIGITS + 2, decimal_places=2),
    AfterValidator(_to_cents),
    PlainSerializer(_two_places, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^[0-9]{{1,{_AREA_INTEGER_DIGITS}}}(\.[0-9]{{1,2}})?$",
            "description": "Floor area in m² as a decimal string; written with exactly 2 decimals.",
            "examples": ["60.00"],
        },
        mode="validation",
    ),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^[0-9]{{1,{_AREA_INTEGER_DIGITS}}}\.[0-9]{{2}}$",
            "description": "Floor area in m² as a decimal string with exactly 2 decimals.",
            "examples": ["60.00"],
        },
        mode="serialization",
    ),
]
"""Non-negative floor area in m², exact to the hundredth; a JSON string on the wire."""


def _not_a_number(value: object) -> object:
    """Only text (or, from Python, a `Decimal`): a JSON number is not what the schema documents."""
    if isinstance(value, int | float):  # bool is an int
        raise ValueError('must be a decimal string such as "3960.00", not a number')
    return value


YuanText = Annotated[Yuan, BeforeValidator(_not_a_number)]
"""`Yuan` that takes no JSON number, integers included (`Yuan` takes 3960 as "3960.00"): where a
sender's figures are read (department facts), a number means the sender's software turned text into
a float somewhere, and the schema says string. From Python, a `Decimal` or a decimal string."""

SquareMetresText = Annotated[SquareMetres, BeforeValidator(_not_a_number)]
"""`SquareMetres` that takes no JSON number (see `YuanText`)."""
