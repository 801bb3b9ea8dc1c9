"""One place that turns a custodian's decrypted config into its client (custody-price-reports.md §1.1).

Provider endpoints come from settings (``LANA_CUSTODY_BITGO_URL``, ``LANA_CUSTODY_KOMAINU_URL``,
``LANA_CUSTODY_ESPLORA_URLS``), never from the stored config, so tests point them at local fakes and
an operator cannot aim a stored credential at another host.
"""

from __future__ import annotations

from typing import Any

import httpx

from activities.custody.bitgo import BitGoClient
from activities.custody.komainu import KomainuClient
from activities.custody.manual import ManualClient
from activities.custody.mock import MockClient
from activities.custody.self_custody import SelfCustodyClient
from domain.custody.config import BitGoConfig, KomainuConfig, SelfCustodyConfig, parse_config
from domain.custody.model import CustodianClient, Provider
from ground.settings import Settings


def client_for(provider: Provider | str, config: dict[str, Any] | Any, settings: Settings, *,
               transport: httpx.AsyncBaseTransport | None = None) -> CustodianClient:
    """``config``: the decrypted config document (or an already parsed config model)."""
    provider = Provider(provider)
    parsed = parse_config(provider, config) if isinstance(config, dict) else config
    match provider:
        case Provider.BITGO:
            assert isinstance(parsed, BitGoConfig)
            return BitGoClient(parsed, settings.custody_bitgo_url or None, transport=transport)
        case Provider.KOMAINU:
            assert isinstance(parsed, KomainuConfig)
            return KomainuClient(parsed, settings.custody_komainu_url or None, transport=transport,
                                 webhook_tolerance_s=settings.custody_komainu_webhook_tolerance_s)
        case Provider.SELF_CUSTODY:
            assert isinstance(parsed, SelfCustodyConfig)
            return SelfCustodyClient(parsed, settings.custody_esplora_urls, transport=transport)
        case Provider.MANUAL:
            return ManualClient()
        case Provider.MOCK:
            return MockClient()
