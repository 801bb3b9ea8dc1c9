"""The dashboard and portfolio figures (issue 20 items 5–6): pure definitions."""
