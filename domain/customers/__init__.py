"""Customers: identity, KYC state (SumSub), activity classification, documents. Pure, no I/O."""
