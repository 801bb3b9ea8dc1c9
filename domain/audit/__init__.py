"""Audit log: the hash chain over audit entries (pure)."""
