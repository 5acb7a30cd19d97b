"""Per-peer counters in /metrics: what an operator watches for each partner city."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

INBOUND = Counter("federation_inbound_queries_total", "Subjects answered to a peer", ["peer"])
INBOUND_MATCHES = Counter("federation_inbound_matches_total", "Answers with a true category", ["peer"])
REJECTIONS = Counter("federation_rejections_total", "Inbound requests refused", ["peer", "status"])
OUTBOUND = Counter("federation_outbound_queries_total", "Subjects asked of a peer", ["peer"])
OUTBOUND_REQUESTS = Counter(
    "federation_outbound_requests_total",
    "Signed requests sent to a peer (every attempt), by endpoint (single, batch)",
    ["peer", "kind"],
)
OUTBOUND_BATCH = Histogram(
    "federation_outbound_batch_subjects",
    "Subjects per outbound batch of coalesced checks (the sweep's)",
    ["peer"],
    buckets=(1, 2, 5, 10, 20, 50, 100),
)
OUTBOUND_RESULTS = Counter("federation_outbound_results_total", "Results per peer", ["peer", "result"])
PEER_SECONDS = Histogram("federation_peer_request_seconds", "Round trip of a request to a peer", ["peer"])
REFUSALS = Counter(
    "federation_refusals_total", "Inbound requests refused, by problem type", ["peer", "problem"]
)
STORE_BATCH = Histogram(
    "federation_exchange_commit_size",
    "Accepted exchanges stored per transaction (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
