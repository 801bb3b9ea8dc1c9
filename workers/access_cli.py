"""`lana token` and `lana audit …` commands."""

from __future__ import annotations

import asyncio
import sys

import click

from ground.settings import get_settings

DEV_STACK_FILE = "dev-stack.json"  # written by `lana dev` into its data directory


def _dev_settings():
    """Settings for `lana token`: an explicit LANA_DATA_DIR wins; otherwise the nearest `.lana` with a
    development key, from this directory upwards, and the database URL `lana dev` recorded there."""
    import json
    import os
    from pathlib import Path

    from api.authn import DEV_KEY_FILE

    s = get_settings()
    if "LANA_DATA_DIR" not in os.environ:
        for folder in (Path.cwd(), *Path.cwd().parents):
            if (folder / ".lana" / DEV_KEY_FILE).exists():
                s = s.model_copy(update={"data_dir": folder / ".lana"})
                break
    stack = Path(s.data_dir) / DEV_STACK_FILE
    if "LANA_DATABASE_URL" not in os.environ and stack.exists():
        s = s.model_copy(update={"database_url": json.loads(stack.read_text())["database_url"]})
    return s


@click.command()
@click.argument("email")
@click.option("--ttl", type=int, default=None, help="Lifetime in seconds (default LANA_AUTH_DEV_TOKEN_TTL_S)")
@click.option("--customer", is_flag=True, help="A customer-realm token for the customer EMAIL (the portal API)")
def token(email: str, ttl: int | None, customer: bool) -> None:
    """Print a short-lived development token for the operator EMAIL (needs LANA_AUTH_DEV_SIGNING=true);
    with --customer, a token of the customer realm for the customer EMAIL (``/api/v1/portal``).

    Signs with the key of the `lana dev` stack: LANA_DATA_DIR, or the nearest `.lana` above the
    current directory. Never creates a key (the API would not know it)."""
    from sqlalchemy import text

    from api.authn import (
        NoDevSigningKey,
        Realm,
        dev_private_key,
        dev_signing_allowed,
        issue_customer_dev_token,
        issue_dev_token,
    )
    from ground.db import create_engine

    s = _dev_settings()
    if not dev_signing_allowed(s):
        click.echo("error: development signing is disabled (set LANA_AUTH_DEV_SIGNING=true; "
                   "never available in production)", err=True)
        sys.exit(2)
    realm = Realm.customer(s) if customer else Realm.internal(s)
    try:
        dev_private_key(s, create=False, key_file=realm.dev_key_file)
    except NoDevSigningKey as exc:
        click.echo(f"error: {exc}; run `lana token` with the LANA_DATA_DIR of your `lana dev` (it prints the "
                   "full command at start), or from inside the folder that holds its `.lana`", err=True)
        sys.exit(2)
    sql = ("SELECT id FROM customers WHERE lower(email) = :e" if customer
           else "SELECT id FROM access_users WHERE email = :e")

    async def _id():
        engine = create_engine(s.database_url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text(sql), {"e": email.strip().lower()})).scalar()
        finally:
            await engine.dispose()

    try:
        found = asyncio.run(_id())
    except OSError as exc:
        click.echo(f"error: cannot reach the database at {s.database_url} ({exc}); is `lana dev` running? "
                   "Use the command it printed at start.", err=True)
        sys.exit(2)
    if found is None:
        click.echo(f"error: no {'customer' if customer else 'operator'} with e-mail {email!r}", err=True)
        sys.exit(1)
    if customer:
        import uuid

        click.echo(issue_customer_dev_token(s, uuid.UUID(str(found)), email=email.strip().lower(), ttl_s=ttl,
                                            create_key=False))
    else:
        click.echo(issue_dev_token(s, found, ttl_s=ttl, create_key=False))


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


def _chain():
    from activities.audit import AnchorLog, AuditKeys

    s = get_settings()
    try:
        return AuditKeys.from_settings(s), AnchorLog(s.audit_anchor_file)
    except ValueError as exc:  # production without LANA_AUDIT_HMAC_KEY
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@audit.command()
def seal() -> None:
    """Seal every entry that can be sealed now and anchor the head (the API does this in the background)."""
    from activities.audit import anchor
    from activities.audit import seal as do_seal

    keys, anchors = _chain()

    async def run(engine):
        return await do_seal(engine, keys), await anchor(engine, keys, anchors)

    sealed, anchored = _with_engine(run)
    click.echo(f"sealed {sealed} entries" + (f", anchored position {anchored['position']}" if anchored else ""))


@audit.command()
def verify() -> None:
    """Recompute the chain, check it against the latest anchor; name the first bad entry; exit 1 if broken."""
    from activities.audit import verify as do_verify

    keys, anchors = _chain()
    report = _with_engine(lambda engine: do_verify(engine, keys, anchors))
    anchored = (f"latest anchor: position {report.anchor['position']} ({report.anchor.get('anchored_at')})"
                if report.anchor else f"no anchor in {anchors.path} yet")
    if report.ok:
        click.echo(f"audit chain OK: {report.sealed} sealed entries verified, {report.unsealed} not sealed yet; "
                   f"{anchored}")
        return
    where = (f"entry {report.first_bad_entry}" if report.first_bad_entry is not None
             else f"position {report.first_bad_position}" if report.first_bad_position is not None else "its anchor")
    click.echo(f"audit chain BROKEN at {where}: {report.problem} "
               f"({report.sealed} entries verified before it, {report.unsealed} not sealed yet; {anchored})")
    sys.exit(1)
