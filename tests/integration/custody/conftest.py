"""Fixtures of the custody integration tests: the API and a worker wired to local provider fakes."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest

from tests.fakes.bitgo import FakeBitGo, running_fake_bitgo
from tests.fakes.esplora import FakeEsplora, running_fake_esplora
from tests.fakes.komainu import FakeKomainu, running_fake_komainu
from tests.harness import Stack


@dataclass
class Fakes:
    bitgo: FakeBitGo
    komainu: FakeKomainu
    esplora: FakeEsplora


@pytest.fixture
async def fakes():
    async with AsyncExitStack() as es:
        yield Fakes(bitgo=await es.enter_async_context(running_fake_bitgo()),
                    komainu=await es.enter_async_context(running_fake_komainu()),
                    esplora=await es.enter_async_context(running_fake_esplora()))


@pytest.fixture
async def custody_stack(db_url, engine, ts_env, fakes):
    """API + worker, KYC not required, provider URLs at the fakes, clients verified before storing."""
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, custody_verify_clients=True,
                           custody_bitgo_url=fakes.bitgo.url, custody_komainu_url=fakes.komainu.url,
                           custody_esplora_urls={n: fakes.esplora.url for n in
                                                 ("mainnet", "testnet3", "testnet4", "signet")},
                           custody_encryption_key="11" * 32) as stack:
        yield stack
