"""`lana token` and `lana audit …` commands."""

from __future__ import annotations

import asyncio
import sys

import click

from ground.settings import get_settings


@click.command()
@click.argument("email")
@click.option("--ttl", type=int, default=None, help="Lifetime in seconds (default LANA_AUTH_DEV_TOKEN_TTL_S)")
def token(email: str, ttl: int | None) -> None:
    """Print a short-lived development token for the operator EMAIL (needs LANA_AUTH_DEV_SIGNING=true)."""
    from sqlalchemy import text

    from api.authn import dev_signing_allowed, issue_dev_token
    from ground.db import create_engine

    s = get_settings()
    if not dev_signing_allowed(s):
        click.echo("error: development signing is disabled (set LANA_AUTH_DEV_SIGNING=true; "
                   "never available in production)", err=True)
        sys.exit(2)

    async def _user_id():
        engine = create_engine(s.database_url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text("SELECT id FROM access_users WHERE email = :e"),
                                           {"e": email.strip().lower()})).scalar()
        finally:
            await engine.dispose()

    user_id = asyncio.run(_user_id())
    if user_id is None:
        click.echo(f"error: no operator with e-mail {email!r}", err=True)
        sys.exit(1)
    click.echo(issue_dev_token(s, user_id, ttl_s=ttl))


@click.group()
def audit() -> None:
    """The hash-chained audit log."""


def _with_engine(fn):
    from ground.db import create_engine

    async def run():
        engine = create_engine(get_settings().database_url, pool_size=2, max_overflow=0)
        try:
            return await fn(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@audit.command()
def seal() -> None:
    """Seal every entry that can be sealed now (the API does this in the background)."""
    from activities.audit import seal as do_seal

    click.echo(f"sealed {_with_engine(do_seal)} entries")


@audit.command()
def verify() -> None:
    """Recompute the chain; name the first altered entry; exit 1 if the chain is broken."""
    from activities.audit import verify as do_verify

    report = _with_engine(do_verify)
    if report.ok:
        click.echo(f"audit chain OK: {report.sealed} sealed entries verified, {report.unsealed} not sealed yet")
        return
    click.echo(f"audit chain BROKEN at entry {report.first_bad_entry}: {report.problem} "
               f"({report.sealed} entries verified before it, {report.unsealed} not sealed yet)")
    sys.exit(1)
