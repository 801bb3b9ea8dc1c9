"""Business time: the business day, its closing instant, and the end-of-day process's messages.

Pure: importable from workflows.
"""
