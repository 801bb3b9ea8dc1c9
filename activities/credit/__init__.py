"""Credit persistence (terms templates; facilities later)."""
