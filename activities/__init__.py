"""Adapters to the outside world: PostgreSQL (ledger, event store, read models) and providers."""
