"""Self-custody adapter (custody-price-reports.md §1.1, §1.3, §1.6, §1.7 polling).

The bank holds the keys; lana only ever sees the **account xpub** (``m/84'/<coin>'/0'``). Wallet
``n`` of the custodian is the P2WPKH address of child ``0/<n>`` (BIP32 public derivation and bech32
encoding by ``embit``), external id ``self-custody:<n>``; the index comes from the custodian's
``next_receive_index`` (allocated under its row lock, never reused). The xpub's version bytes must be
of the configured network's family (mainnet vs test networks) else ``XpubNetworkMismatch``.
Balances are polled from an Esplora-compatible API: ``GET address/<addr>``, confirmed balance =
``chain_stats.funded_txo_sum − chain_stats.spent_txo_sum`` (negative ⇒ ``InvalidEsploraBalance``).
``verify_client``: ``GET blocks/tip/height`` answers an integer. Webhooks are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import httpx
from embit.bip32 import HDKey
from embit.networks import NETWORKS
from embit.script import p2wpkh

from activities.custody.http import json_of, make_http, send
from domain.custody.config import (
    CustodianConfigInvalid,
    MissingEsploraUrlForNetwork,
    SelfCustodyConfig,
    XpubNetworkMismatch,
)
from domain.custody.model import (
    CustodianProviderError,
    InitializedWallet,
    Network,
    Provider,
    WalletBalance,
    WebhookNotice,
)
from domain.errors import ValidationFailed

DEFAULT_ESPLORA_URLS = {
    Network.MAINNET.value: "https://blockstream.info/api/",
    Network.TESTNET3.value: "https://blockstream.info/testnet/api/",
    Network.TESTNET4.value: "https://mempool.space/testnet4/api/",
    Network.SIGNET.value: "https://blockstream.info/signet/api/",
}
_PUB_VERSIONS = ("xpub", "ypub", "zpub", "Ypub", "Zpub")


class InvalidEsploraBalance(CustodianProviderError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, transient=False, provider="self-custody")


def embit_network(network: Network) -> dict:
    return NETWORKS["main" if network is Network.MAINNET else "test"]


def parse_xpub(xpub: str, network: Network) -> HDKey:
    """The account key, checked: public, and of ``network``'s family."""
    try:
        key = HDKey.from_string(xpub.strip())
    except Exception:  # embit raises several kinds (base58 checksum, length, version)
        raise CustodianConfigInvalid("account_xpub is not a BIP32 extended public key") from None
    if key.is_private:
        raise CustodianConfigInvalid("account_xpub is a private key: give lana the xpub only")
    net = embit_network(network)
    if key.version not in {net[v] for v in _PUB_VERSIONS if v in net}:
        other = "mainnet" if network is not Network.MAINNET else "a test network"
        raise XpubNetworkMismatch(f"account_xpub is for {other}, the custodian's network is {network.value}")
    return key


def derive_address(xpub: str, network: Network, index: int) -> str:
    """P2WPKH address of child ``0/<index>`` (receive chain) of the account xpub."""
    if not 0 <= index < 2**31:
        raise ValidationFailed(f"receive index out of range: {index}")
    child = parse_xpub(xpub, network).derive([0, index])
    return p2wpkh(child.key).address(embit_network(network))


class SelfCustodyClient:
    provider = Provider.SELF_CUSTODY

    def __init__(self, config: SelfCustodyConfig, esplora_urls: Mapping[str, str] | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None, clock=lambda: datetime.now(UTC)) -> None:
        self.config = config
        parse_xpub(config.account_xpub, config.network)  # a config that cannot derive fails here, not later
        urls = DEFAULT_ESPLORA_URLS if esplora_urls is None else esplora_urls
        self._esplora_url = urls.get(config.network.value)
        self._transport, self._clock = transport, clock

    def __repr__(self) -> str:
        return f"SelfCustodyClient(network={self.config.network.value!r})"

    def _http(self) -> httpx.AsyncClient:
        if not self._esplora_url:
            raise MissingEsploraUrlForNetwork(f"no Esplora URL for {self.config.network.value} "
                                              "(LANA_CUSTODY_ESPLORA_URLS)")
        return make_http(self._esplora_url, self._transport)

    async def verify_client(self) -> None:
        async with self._http() as http:
            response = await send(http, "self-custody", http.build_request("GET", "blocks/tip/height"))
        if not response.text.strip().isdigit():
            raise CustodianProviderError("esplora blocks/tip/height is not an integer", transient=False,
                                         provider="self-custody")

    async def initialize_wallet(self, label: str, receive_index: int | None) -> InitializedWallet:
        if receive_index is None:
            raise ValidationFailed("a self-custody wallet needs its receive index")
        coin = 0 if self.config.network is Network.MAINNET else 1
        return InitializedWallet(
            external_wallet_id=f"self-custody:{receive_index}",
            address=derive_address(self.config.account_xpub, self.config.network, receive_index),
            network=self.config.network,
            custodian_response={"type": "self_custody", "derivation_index": receive_index,
                                "derivation_path": f"m/84'/{coin}'/0'/0/{receive_index}"})

    async def fetch_wallet_balance(self, external_wallet_id: str, address: str) -> WalletBalance:
        async with self._http() as http:
            data = json_of(await send(http, "self-custody", http.build_request("GET", f"address/{address}")),
                           "self-custody")
        stats = data.get("chain_stats") if isinstance(data, dict) else None
        try:
            funded, spent = stats["funded_txo_sum"], stats["spent_txo_sum"]
        except (KeyError, TypeError):
            raise InvalidEsploraBalance(f"esplora address/{address} has no chain_stats") from None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (funded, spent)) or funded < spent:
            raise InvalidEsploraBalance(f"esplora balance of {address} is not a non-negative integer")
        return WalletBalance(external_wallet_id=external_wallet_id, balance_sats=funded - spent,
                             changed_at=self._clock())

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        return None  # self-custody has no webhooks: a notice is ignored (parse_webhook → None)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        return None

    async def current_balance(self, notice: WebhookNotice) -> None:
        return None
