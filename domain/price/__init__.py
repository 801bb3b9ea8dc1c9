"""BTC/USD price: value types, staleness rule, errors (custody-price-reports.md §3)."""
