"""`python -m services.monitoring`: the monitoring service on HTTP_PORT (8005 in the local stack)."""

from __future__ import annotations

if __name__ == "__main__":
    # Import the service from its modules, never define it here: stored event topics name the
    # module of each domain class (`services.monitoring.domain`), not `__main__`.
    from services.monitoring.service import main

    main()
