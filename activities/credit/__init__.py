"""Credit persistence and steps: terms templates; facilities (store, operations, activity)."""
