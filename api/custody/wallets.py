"""A facility's custody wallet, on demand (custody-price-reports.md §1.6).

The facility workflow creates the wallet after approval; when that step was refused (credentials
the provider rejected, since fixed with ``PUT /custodians/{id}/config``) an operator runs the same
idempotent step here: the existing wallet if there is one, else a new one at the facility's
custodian. Permission ``custody:custodian:create-wallet`` (custody_writer).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from sqlalchemy import select

from activities.credit.tables import facilities
from activities.custody import operations
from api.authz import Principal, require
from api.credit.schemas import FacilityWalletOut
from api.custody.custodians import keyring
from api.deps import EngineDep
from domain.credit.errors import FacilityNotFound
from domain.credit.status import Stage
from domain.errors import Conflict, ValidationFailed

router = APIRouter(tags=["custody"])


@router.post("/credit-facilities/{facility_id}/custody-wallet", response_model=FacilityWalletOut,
             responses={409: {"description": "The proposal is not approved yet"},
                        422: {"description": "The facility names no custodian, or its custodian keeps no wallets"},
                        502: {"description": "The custodian's API failed (custody.provider_error)"}},
             summary="Create the facility's custody wallet if it has none (after a refused wallet step)")
async def create_wallet(facility_id: uuid.UUID, request: Request, engine: EngineDep,
                        principal: Principal = require("custody:custodian:create-wallet"),
                        ) -> FacilityWalletOut:
    async with engine.connect() as conn:
        row = (await conn.execute(select(facilities.c.stage, facilities.c.custodian_id)
                                  .where(facilities.c.id == str(facility_id)))).first()
    if row is None:
        raise FacilityNotFound(f"Credit facility {facility_id} does not exist.")
    if row.stage not in (Stage.PENDING.value, Stage.ACTIVE.value):
        raise Conflict(f"Facility {facility_id} is at stage {row.stage}: a wallet is created once it is approved.")
    if row.custodian_id is None:
        raise ValidationFailed(f"Facility {facility_id} names no custodian (manual collateral).")
    view = await operations.create_wallet(engine, keyring(request), request.app.state.settings, str(facility_id))
    if view is None:
        raise ValidationFailed(f"The custodian of facility {facility_id} keeps no wallets (manual).")
    return FacilityWalletOut(**{k: view[k] for k in ("wallet_id", "address", "network", "custodian_id", "provider")})
