"""Pure, deterministic business rules. No I/O: safe to import from Temporal workflows."""
