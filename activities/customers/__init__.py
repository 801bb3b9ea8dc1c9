"""Customer module side effects: PostgreSQL (events + read models), SumSub, document storage."""
