"""Ask accounting where a product's ledger accounts go (see domain/accounting/product_sets.py).

``product_set`` returns the ledger account set for a product key, creating it on first use
(idempotent, keyed by ``external_id = "product:<key>"``, so concurrent first uses agree). The
accounting module's integration config (activities/accounting/integration.py) attaches product sets
under chart nodes: when the config is applied, and here when a set is first used afterwards.
"""

from __future__ import annotations

import functools
import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from domain.accounting.product_sets import ProductSet

_NS = uuid.UUID("6c1f3a4e-6d1b-4a5e-9a77-2b3c4d5e6f70")


def product_set_id(ps: ProductSet) -> uuid.UUID:
    return _derived_id(f"product-set:{ps.key}")


def omnibus_account_id(ps: ProductSet) -> uuid.UUID:
    return _derived_id(f"omnibus-account:{ps.key}")


@functools.cache  # a handful of product keys, asked for on every facility step (uuid5 hashes each time)
def _derived_id(name: str) -> uuid.UUID:
    return uuid.uuid5(_NS, name)


async def product_set(conn: AsyncConnection, ps: ProductSet) -> uuid.UUID:
    """The product set's ledger set, created on first use and attached under its chart node once the
    integration config covers its key (one query when it exists and needs nothing more)."""
    from activities.accounting.integration import attach_product_set, product_sets_placed

    set_id = product_set_id(ps)
    if (await product_sets_placed(conn, {set_id: ps.key})).get(set_id) == (ps.name, ps.normal_balance, True):
        return set_id
    await ledger.create_account_set(conn, id=set_id, name=ps.name, normal_balance=ps.normal_balance,
                                    external_id=f"product:{ps.key}", metadata={"product_key": ps.key})
    await attach_product_set(conn, set_id, ps.key)
    return set_id


async def product_account(conn: AsyncConnection, ps: ProductSet, *, account_id: uuid.UUID, code: str,
                          name: str, external_id: str | None = None, control: str | None = None) -> uuid.UUID:
    """Create (idempotently) a ledger account as a member of the product set."""
    set_id = await product_set(conn, ps)
    await ledger.create_account(conn, id=account_id, code=code, name=name, normal_balance=ps.normal_balance,
                                external_id=external_id, control=control)
    await ledger.add_member(conn, set_id, account_id)
    return account_id


async def product_accounts(conn: AsyncConnection, accounts: list[tuple[ProductSet, ledger.AccountSpec]]) -> None:
    """Create (idempotently) several accounts, each a member of its product set, in a few statements
    whatever their number: the sets (one query when all exist and are placed), the accounts, the
    memberships."""
    from activities.accounting.integration import product_sets_placed

    sets = {product_set_id(ps): ps for ps, _ in accounts}
    placed = await product_sets_placed(conn, {set_id: ps.key for set_id, ps in sets.items()})
    for set_id, ps in sets.items():
        if placed.get(set_id) != (ps.name, ps.normal_balance, True):
            await product_set(conn, ps)  # first use, or not attached yet
    await ledger.create_accounts(conn, [spec for _, spec in accounts])
    await ledger.add_account_members(conn, [(product_set_id(ps), spec.id) for ps, spec in accounts])


def omnibus_spec(ps: ProductSet) -> tuple[ProductSet, ledger.AccountSpec]:
    """The single omnibus account of a product set, for :func:`product_accounts`."""
    aid = omnibus_account_id(ps)
    return ps, ledger.AccountSpec(id=aid, code=f"OMNIBUS.{ps.key}", name=ps.name, normal_balance=ps.normal_balance,
                                  external_id=f"omnibus:{ps.key}")


async def omnibus_account(conn: AsyncConnection, ps: ProductSet) -> uuid.UUID:
    """The single omnibus account of a product set (e.g. cash at bank for deposits)."""
    _, spec = omnibus_spec(ps)
    return await product_account(conn, ps, account_id=spec.id, code=spec.code, name=spec.name,
                                 external_id=spec.external_id)
