"""Accounting: chart of accounts, integration config, statements, fiscal periods."""
