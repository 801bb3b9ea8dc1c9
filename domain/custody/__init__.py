"""Custody: custodians, one collateral wallet per facility, balance notifications
(custody-price-reports.md §1–§2)."""
