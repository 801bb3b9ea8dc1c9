"""Accounting persistence: product sets, chart of accounts, statements, fiscal periods."""
