"""`python -m services.training`: the training service on HTTP_PORT (8004 in the local stack)."""

from __future__ import annotations

if __name__ == "__main__":
    # Import the service from its modules, never define it here: stored event topics name the
    # module of each domain class (`services.training.domain`), not `__main__`.
    from services.training.service import main

    main()
