"""Workflow and activity payloads of custody (pydantic: Temporal's data converter)."""

from __future__ import annotations

from pydantic import BaseModel


class CreateWalletInput(BaseModel):
    facility_id: str


class WalletInfo(BaseModel):
    """The facility's collateral wallet as the API shows it (``wallet`` on a facility)."""

    wallet_id: str
    address: str
    network: str
    custodian_id: str
    provider: str
    external_wallet_id: str
