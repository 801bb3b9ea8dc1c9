"""Load the default chart (domain/accounting/default_chart.csv) and its configs, once."""

from __future__ import annotations

from importlib import resources

from sqlalchemy.ext.asyncio import AsyncConnection

from activities.accounting import chart, integration
from domain.accounting import defaults


def default_chart_csv() -> str:
    return resources.files("domain.accounting").joinpath("default_chart.csv").read_text()


async def load_default_chart(conn: AsyncConnection) -> bool:
    """On a database whose chart has no base config yet: import the default chart, set the base
    config and the deposit and credit module configs. Returns False (and does nothing) otherwise."""
    await chart.ensure_chart(conn)
    if await chart.base_config(conn) is not None:
        return False
    await chart.import_csv(conn, default_chart_csv())
    await chart.set_base_config(conn, defaults.BASE_CONFIG)
    for module, cfg in (("deposit", defaults.DEPOSIT_CONFIG), ("credit", defaults.CREDIT_CONFIG)):
        if await integration.get_module_config(conn, module) is None:
            await integration.set_module_config(conn, module, cfg)
    return True
