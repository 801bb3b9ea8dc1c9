"""Apply Alembic migrations programmatically (used by `lana migrate`, `lana dev` and tests).

Each module ships its own revision branched from the foundation (``depends_on`` when it needs
another module's tables), so modules can be developed side by side; ``upgrade heads`` applies all.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str) -> None:
    """Blocking; runs its own event loop, so call it from a thread when one is already running."""
    command.upgrade(alembic_config(database_url), "heads")
