"""Deposit module side effects: events, read models and ledger postings in one DB transaction."""
