"""Door credentials at rest: a keyed hash, never the card number or face-template id itself.

A card number is a short token printed on a card, so an unkeyed hash (or a uuid5 of it) could be
reversed by trying every number. Monitoring therefore keeps only `HMAC-SHA256(key, kind:token)`: in the
event store (`Credential` aggregates and their ids), in the occupancy checkpoint (the strangers seen at a
unit) and in memory; incoming signals are hashed the same way before any lookup. Equal tokens give equal
digests, which is all the detectors need.

The key comes from `MONITORING_CREDENTIAL_KEY`; without it, from the event store's `CIPHER_KEY` (a key
derived from it, not the cipher key itself); without either, a published demo key, which `main()`
announces with a loud warning. Changing the key makes every stored digest unmatchable: credentials must
be enrolled again and the occupancy book is rebuilt from the SIGNALS stream (the checkpoint carries a
fingerprint of the key and is ignored when it does not match).
"""

from __future__ import annotations

import hashlib
import hmac

DEMO_CREDENTIAL_KEY = "demo-only-monitoring-credential-key-not-for-production"
"""Local-stack default. Anyone who reads this file can recompute the digests made with it."""

_DERIVATION_LABEL = b"housing/monitoring/credential-key/v1"
_CACHE_MAX = 200_000


def resolve_key(configured: str | None, cipher_key: str | None) -> tuple[bytes, str]:
    """The HMAC key and where it came from: `setting`, `cipher_key` or `demo`."""
    if configured:
        return configured.encode(), "setting"
    if cipher_key:
        return hmac.digest(cipher_key.encode(), _DERIVATION_LABEL, "sha256"), "cipher_key"
    return DEMO_CREDENTIAL_KEY.encode(), "demo"


class CredentialHasher:
    """`kind:token` → `kind:<hex HMAC-SHA256>`, with a bounded cache (the intake hashes every opening,
    and the same few thousand cards open doors all day)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._cache: dict[str, str] = {}
        self.fingerprint = hmac.digest(key, b"fingerprint", "sha256").hex()[:16]
        """Names the key without revealing it: stored with the checkpoint to detect a key change."""

    def key(self, kind: str, token: str) -> str:
        clear = f"{kind}:{token}"
        digest = self._cache.get(clear)
        if digest is None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            digest = self._cache[clear] = (
                f"{kind}:{hmac.new(self._key, clear.encode(), hashlib.sha256).hexdigest()}"
            )
        return digest
