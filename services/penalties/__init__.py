"""Penalties and incentives: rent ledger, transition plans, voluntary-exit subsidy, sanctions, notices,
appeals (issue 4)."""
