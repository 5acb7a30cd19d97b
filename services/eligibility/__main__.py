"""`python -m services.eligibility`: the eligibility service on HTTP_PORT (8001 in the local stack)."""

from __future__ import annotations

if __name__ == "__main__":
    # Import the service from its modules, never define it here: stored event topics name the
    # module of each domain class (`services.eligibility.domain`), not `__main__`.
    from services.eligibility.service import main

    main()
