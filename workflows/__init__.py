"""Temporal workflows: one per long-running process. Deterministic; import only domain + temporalio."""
