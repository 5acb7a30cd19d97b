"""`python -m services.resettlement`: the resettlement service on HTTP_PORT (8003 in the local stack)."""

from __future__ import annotations

if __name__ == "__main__":
    # Import the service from its modules, never define it here: stored event topics name the
    # module of each domain class (`services.resettlement.domain`), not `__main__`.
    from services.resettlement.service import main

    main()
