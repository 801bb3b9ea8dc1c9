"""A local fake of an Esplora-compatible API (blockstream.info / mempool.space): tip height and the
chain stats of the addresses a test funds."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Response

from tests.fakes.serve import serving


@dataclass
class FakeEsplora:
    url: str = ""
    height: int = 80_000
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)  # address -> (funded, spent)
    calls: list[str] = field(default_factory=list)

    def fund(self, address: str, funded: int, spent: int = 0) -> None:
        self.stats[address] = (funded, spent)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/blocks/tip/height")
        async def tip():
            self.calls.append("tip")
            return Response(str(self.height), media_type="text/plain")

        @app.get("/address/{address}")
        async def address(address: str):
            self.calls.append(f"address/{address}")
            funded, spent = self.stats.get(address, (0, 0))
            return {"address": address,
                    "chain_stats": {"funded_txo_count": 1 if funded else 0, "funded_txo_sum": funded,
                                    "spent_txo_count": 1 if spent else 0, "spent_txo_sum": spent, "tx_count": 0},
                    "mempool_stats": {"funded_txo_sum": 0, "spent_txo_sum": 0}}

        return app


@asynccontextmanager
async def running_fake_esplora(**kwargs: Any):
    fake = FakeEsplora(**kwargs)
    async with serving(fake.app()) as url:
        fake.url = url + "/"
        yield fake
