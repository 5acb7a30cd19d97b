"""Prometheus metrics of the backbone, the same names in every service (labelled by service).

An SRE's first questions: is the relay keeping up (lag), is anything being dead-lettered, are
messages redelivered (duplicates), how long do handlers take.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RELAY_PUBLISHED = Counter("housing_relay_published_total", "Integration events published", ["service"])
RELAY_DUPLICATES = Counter(
    "housing_relay_duplicates_total", "Publishes JetStream dropped as duplicates", ["service"]
)
RELAY_FAILURES = Counter("housing_relay_failures_total", "Relay batches that must be retried", ["service"])
RELAY_POSITION = Gauge("housing_relay_position", "Last notification id published and recorded", ["service"])
RELAY_LAG = Gauge("housing_relay_lag", "Notifications stored but not yet published", ["service"])

INBOX_PROCESSED = Counter(
    "housing_inbox_processed_total", "Messages whose effects were committed", ["service", "stream"]
)
INBOX_DUPLICATES = Counter(
    "housing_inbox_duplicates_total",
    "Redelivered messages acknowledged without effect",
    ["service", "stream"],
)
INBOX_DEADLETTERED = Counter(
    "housing_inbox_deadlettered_total",
    "Messages moved to the dead-letter subject",
    ["service", "stream", "cause"],
)
INBOX_RETRIES = Counter("housing_inbox_retries_total", "Handler attempts that failed", ["service", "stream"])
INBOX_RESUBSCRIBES = Counter(
    "housing_inbox_resubscribes_total", "Pull subscriptions rebuilt", ["service", "stream"]
)
INBOX_BATCH_SECONDS = Histogram(
    "housing_inbox_batch_seconds", "Time to handle and commit one fetched batch", ["service", "stream"]
)

LEASE_HELD = Gauge(
    "housing_lease_held", "1 while this process runs the loop the lease names", ["service", "lease"]
)
