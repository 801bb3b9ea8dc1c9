"""Governance persistence: committees, policies and approval processes (events + read models)."""
