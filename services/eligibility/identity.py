"""Personal ID numbers: normalised, hashed, masked. The only place that touches them.

Eligibility is the one service allowed to hold members' ID numbers. Everything that leaves it (events,
logs, API answers) names a person by `person_hash`, the hex HMAC-SHA256 of the normalised number under
a key shared with the departments, so their facts match our members without the number travelling.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_ID_NUMBER = re.compile(r"^[1-9][0-9]{16}[0-9X]$")


def normalise(id_number: str) -> str:
    """Upper case, no spaces: `440604 19850715 123x` and `44060419850715123X` are the same person."""
    return re.sub(r"\s+", "", id_number).upper()


def is_valid(id_number: str) -> bool:
    """Shape of a PRC resident ID number (18 characters, GB 11643); the checksum is not enforced."""
    return _ID_NUMBER.fullmatch(normalise(id_number)) is not None


def person_hash(id_number: str, key: str) -> str:
    return hmac.new(key.encode(), normalise(id_number).encode(), hashlib.sha256).hexdigest()


def mask(id_number: str) -> str:
    """What an operator may see: region prefix and last four characters."""
    number = normalise(id_number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
