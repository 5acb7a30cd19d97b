"""What monitoring's commands and queries refuse, for the API to answer as problems."""

from __future__ import annotations


class NotFound(LookupError):
    """The named household, member or warning is unknown here (404 at the API)."""
