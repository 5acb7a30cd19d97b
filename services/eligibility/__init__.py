"""The eligibility service: households, department facts, dated regional exit rules, two-stage review.

Layers, as DESIGN.md asks: `rules.py` (pure exit rules and dated parameters), `domain.py` (aggregates),
`application.py` (commands and queries, composed of one module per capability: `registrations.py`,
`intake.py`, `cross_region.py`, `reviews.py`, `parameter_book.py`), `handlers.py` (integration events
in), `translate.py` (domain events out as contract events), `api.py` (HTTP), `__main__.py` (start).
"""
