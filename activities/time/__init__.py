"""Business time: the clock (real or simulated), end-of-day records and the EndOfDay activities."""
