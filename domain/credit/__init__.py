"""Credit: terms, CVL, the facility and disbursal aggregates, ledger templates (credit.md).

Pure: importable from workflows.
"""
