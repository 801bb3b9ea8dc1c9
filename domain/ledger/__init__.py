"""The double-entry ledger's pure part: entry model, balance arithmetic, posting templates."""
