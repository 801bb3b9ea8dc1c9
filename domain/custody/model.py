"""Custody values shared by every custodian adapter (custody-price-reports.md §1.1–§1.3, §2).

Pure: no I/O. The adapters (``activities/custody/``) implement :class:`CustodianClient`; the API,
the wallet workflow and the collateral sync only ever see the values defined here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from domain.errors import LanaError, NotFound, Unauthenticated, ValidationFailed, register

SATS_PER_BTC = 100_000_000
MOCK_CUSTODIAN_ID = "00000000-0000-0000-0000-000000000000"  # §1.2: the mock custodian is the nil UUID


class Provider(enum.StrEnum):
    BITGO = "bitgo"
    KOMAINU = "komainu"
    SELF_CUSTODY = "self-custody"
    MANUAL = "manual"
    MOCK = "mock"


class Network(enum.StrEnum):
    MAINNET = "mainnet"
    TESTNET3 = "testnet3"
    TESTNET4 = "testnet4"
    SIGNET = "signet"


# -- errors ---------------------------------------------------------------------------------------

@register
class CustodianNotFound(NotFound):
    code = "custody.custodian_not_found"
    title = "Custodian not found"


@register
class WalletNotFound(NotFound):
    code = "custody.wallet_not_found"
    title = "Custody wallet not found"


@register
class PrecisionLoss(ValidationFailed):
    code = "custody.precision_loss"
    title = "A BTC amount has more than 8 decimals"


@register
class UnexpectedNegativeNumber(ValidationFailed):
    code = "custody.unexpected_negative_number"
    title = "A provider amount is negative"


@register
class WebhookSignatureInvalid(Unauthenticated):
    """A forged, missing or stale webhook signature (401; nothing is stored)."""

    code = "custody.webhook_signature_invalid"
    title = "Webhook signature missing or invalid"


@register
class WebhookPayloadInvalid(ValidationFailed):
    code = "custody.webhook_payload_invalid"
    title = "Webhook body is not a notification this provider sends"


@register
class StaleEncryptionKey(LanaError):
    """A stored value is under a key id that is neither the current nor the deprecated key."""

    code = "custody.stale_encryption_key"
    status = 409
    title = "Custodian configuration is encrypted under an unknown key"


@register
class CustodianProviderError(LanaError):
    """The provider's API failed (network, 5xx: transient) or answered something unusable."""

    code = "custody.provider_error"
    status = 502
    title = "Custodian provider error"

    def __init__(self, detail: str | None = None, *, transient: bool = True, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.transient = transient


# -- amounts ----------------------------------------------------------------------------------------

def btc_to_sats(value: str | Decimal | int) -> int:
    """An exact provider BTC amount (a decimal string, never a float) → satoshis.

    More than 8 decimals ⇒ ``PrecisionLoss``; negative ⇒ ``UnexpectedNegativeNumber`` (§0)."""
    if isinstance(value, float):  # pragma: no cover - guarded: providers' JSON is parsed as Decimal
        raise ValidationFailed("BTC amounts are never floats")
    try:
        d = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValidationFailed(f"not a BTC amount: {value!r}") from exc
    if not d.is_finite():
        raise ValidationFailed(f"not a BTC amount: {value!r}")
    if d < 0:
        raise UnexpectedNegativeNumber(f"negative BTC amount: {value}")
    sats = d * SATS_PER_BTC
    if sats != sats.to_integral_value():
        raise PrecisionLoss(f"{value} BTC is not a whole number of satoshis")
    return int(sats)


# -- what adapters exchange -------------------------------------------------------------------------

@dataclass(frozen=True)
class InitializedWallet:
    """What ``initialize_wallet`` returns: the provider's wallet for one facility."""

    external_wallet_id: str
    address: str
    network: Network
    custodian_response: dict[str, Any] = field(default_factory=dict)  # raw, stored with the wallet


@dataclass(frozen=True)
class WebhookNotice:
    """A verified webhook, parsed: which provider wallet it is about and the provider's own event
    identity (the inbox key). ``balance_sats`` is set only where the notice itself carries the
    balance (mock); the others are re-read from the provider (§2.1–§2.2)."""

    event_id: str
    external_wallet_id: str
    balance_sats: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # what ``current_balance`` needs (e.g. transfer id)


@dataclass(frozen=True)
class WalletBalance:
    """A wallet's balance as the provider reports it now (confirmed sats) and when it changed."""

    external_wallet_id: str
    balance_sats: int
    changed_at: datetime


class CustodianClient(Protocol):
    """One custodian, built from its decrypted config (§1.1). Implemented per provider in
    ``activities/custody/``. Everything async talks to the provider over HTTP."""

    provider: Provider

    async def verify_client(self) -> None:
        """An authenticated call proving the credentials; raises ``CustodianProviderError``."""

    async def initialize_wallet(self, label: str, receive_index: int | None) -> InitializedWallet | None:
        """The wallet of one facility (``None``: this custodian has none, e.g. manual)."""

    async def fetch_wallet_balance(self, external_wallet_id: str, address: str) -> WalletBalance | None:
        """The polled balance (self-custody; ``None`` where the provider only notifies)."""

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        """Pure: raise ``WebhookSignatureInvalid`` unless the raw body carries a valid signature."""

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice | None:
        """Pure: a verified body → the notice (``None``: a notification that changes nothing, e.g. a
        BitGo transfer that is not confirmed); raises ``WebhookPayloadInvalid``."""

    async def current_balance(self, notice: WebhookNotice) -> WalletBalance | None:
        """Re-read the provider's current balance of the notice's wallet (§2.1–§2.3)."""
