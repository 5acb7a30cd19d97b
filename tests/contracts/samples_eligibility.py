"""One valid wire payload per event of this context, by CloudEvents type (merged into SAMPLES)."""

from __future__ import annotations

from typing import Any

SAMPLES: dict[str, dict[str, Any]] = {}
