"""Synthetic population of a Foshan-sized city (issue 9): seeded, reproducible, with its ground truth.

`python -m infra.population --seed 2026 --out var/population [--scale 1.0]` writes the households (the
registration bodies eligibility takes), the departments' facts, door credentials and openings, utility
readings, the four neighbours' data sets and `truth.json`/`summary.json`. Model, figures and their
sources: docs/population.md.
"""
