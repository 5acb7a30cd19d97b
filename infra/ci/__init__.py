"""Helpers of `.ci/run` and of `make test-shifted` (README: "Running the suite under a shifted clock")."""
