"""``lana custody …``: custodian key maintenance (custody-price-reports.md §1.4)."""

from __future__ import annotations

import asyncio
import secrets

import click
import structlog

from ground.settings import Settings, get_settings

log = structlog.get_logger(__name__)


async def start_up(engine, settings: Settings) -> int:
    """What every worker does at start-up: with a deprecated key configured, re-encrypt every
    custodian not yet under the current key (idempotent: a second start re-encrypts nothing and
    writes no audit entry); where the mock custodian is enabled, make sure it exists."""
    from activities.custody import operations
    from activities.custody.secrets import keyring_from_settings

    keyring = keyring_from_settings(settings)
    rotated = 0
    if keyring.deprecated is not None:
        rotated = await operations.rotate_encryption_key(engine, keyring)
    if settings.custody_mock:
        from domain.custody.custodian import CustodianAlreadyExists

        try:
            async with engine.begin() as conn:
                await operations.ensure_mock_custodian(conn, keyring)
        except CustodianAlreadyExists as exc:  # its name is another custodian's: start anyway, say so
            log.warning("custody.mock_custodian_not_created", reason=exc.detail)
    return rotated


@click.group()
def custody() -> None:
    """Custodian configuration keys."""


@custody.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every custodian config under LANA_CUSTODY_ENCRYPTION_KEY (reading older values with
    LANA_CUSTODY_DEPRECATED_ENCRYPTION_KEY). Idempotent; prints how many were re-encrypted."""
    from activities.custody import operations
    from activities.custody.secrets import keyring_from_settings
    from ground.db import create_engine

    async def run() -> int:
        settings = get_settings()
        engine = create_engine(settings.database_url, pool_size=2, max_overflow=0)
        try:
            return await operations.rotate_encryption_key(engine, keyring_from_settings(settings))
        finally:
            await engine.dispose()

    click.echo(f"re-encrypted {asyncio.run(run())} custodian(s)")


@custody.command("gen-key")
def gen_key() -> None:
    """Print a new random LANA_CUSTODY_ENCRYPTION_KEY (64 hex characters)."""
    click.echo(secrets.token_hex(32))
