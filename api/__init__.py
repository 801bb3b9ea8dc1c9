"""Thin FastAPI layer: authN, authZ + audit, schemas, workflow commands, read models."""
