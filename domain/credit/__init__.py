"""Credit: terms, CVL and collateralization (credit.md). Pure: importable from workflows."""
