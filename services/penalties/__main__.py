"""`python -m services.penalties`: the penalties service on HTTP_PORT (8002 in the local stack)."""

from __future__ import annotations

if __name__ == "__main__":
    # Import the service from its modules, never define it here: stored event topics name the
    # module of each domain class (`services.penalties.domain`), not `__main__`.
    from services.penalties.service import main

    main()
