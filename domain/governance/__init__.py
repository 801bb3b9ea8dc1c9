"""Governance: committees, approval policies and the voting rules of approval processes."""
