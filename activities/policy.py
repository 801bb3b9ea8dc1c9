"""casbin enforcement over the policies stored in PostgreSQL (``casbin_rule``).

Each API instance holds one in-memory enforcer tagged with the policy version it was loaded at.
Every request reads the current version (one indexed row, fetched together with the caller's user
row) and reloads the enforcer first when it is stale, so a grant change made through any instance
takes effect on the very next request everywhere, without a restart.
"""

from __future__ import annotations

import asyncio

import casbin
from casbin import persist
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

MODEL_TEXT = """
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && keyMatch(r.obj, p.obj) && r.act == p.act
"""


class RowsAdapter(persist.Adapter):
    """Feeds casbin the rows read (asynchronously) from ``casbin_rule``; read-only."""

    def __init__(self, rows: list[tuple[str, ...]]) -> None:
        self.rows = rows

    def load_policy(self, model) -> None:
        for row in self.rows:
            persist.load_policy_line(", ".join(v for v in row if v), model)


def build_enforcer(rows: list[tuple[str, ...]]) -> casbin.Enforcer:
    model = casbin.Enforcer.new_model(text=MODEL_TEXT)
    return casbin.Enforcer(model, RowsAdapter(rows))


async def load_rows(conn: AsyncConnection) -> tuple[int, list[tuple[str, ...]]]:
    """The version first, then the rows: the rows are at least as new as the version returned."""
    version = (await conn.execute(text("SELECT version FROM access_policy_version WHERE id = 1"))).scalar_one()
    rows = await conn.execute(text("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id"))
    return version, [tuple(r) for r in rows]


class PolicyCache:
    def __init__(self) -> None:
        self.version: int | None = None
        self.enforcer: casbin.Enforcer | None = None
        self.reloads = 0
        self._lock = asyncio.Lock()

    async def ensure(self, conn: AsyncConnection, current_version: int) -> casbin.Enforcer:
        if self.enforcer is None or self.version != current_version:
            async with self._lock:
                if self.enforcer is None or self.version is None or self.version < current_version:
                    version, rows = await load_rows(conn)
                    self.enforcer = build_enforcer(rows)
                    self.version = version
                    self.reloads += 1
        assert self.enforcer is not None
        return self.enforcer
