"""Custom search attributes: what an engineer filters on in the Temporal Web UI.

Registered by `lana migrate` (on a real namespace), by `lana dev` (dev-server flags) and by the test
harness. Values are not encrypted: never put personal data in them, only ids and states.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

LANA_ENTITY_ID = SearchAttributeKey.for_keyword("LanaEntityId")
LANA_STATUS = SearchAttributeKey.for_keyword("LanaStatus")
LANA_CUSTOMER_ID = SearchAttributeKey.for_keyword("LanaCustomerId")
LANA_ACCOUNT_ID = SearchAttributeKey.for_keyword("LanaAccountId")
LANA_PROCESS_TYPE = SearchAttributeKey.for_keyword("LanaProcessType")
LANA_COLLATERALIZATION = SearchAttributeKey.for_keyword("LanaCollateralization")
LANA_STEP = SearchAttributeKey.for_keyword("LanaStep")  # the end-of-day step running
LANA_OBLIGATION_STATUS = SearchAttributeKey.for_keyword("LanaObligationStatus")  # a facility's worst obligation
LANA_NEXT_ACCRUAL_DATE = SearchAttributeKey.for_keyword("LanaNextAccrualDate")  # ISO date: sorts as text
# a liquidation's amounts (credit.md §9): cents expected / received, sats sent to the liquidator
LANA_LIQUIDATION_EXPECTED_CENTS = SearchAttributeKey.for_int("LanaLiquidationExpectedCents")
LANA_LIQUIDATION_RECEIVED_CENTS = SearchAttributeKey.for_int("LanaLiquidationReceivedCents")
LANA_LIQUIDATION_SENT_SATS = SearchAttributeKey.for_int("LanaLiquidationSentSats")

ALL_KEYS = [
    LANA_ENTITY_ID,
    LANA_STATUS,
    LANA_CUSTOMER_ID,
    LANA_ACCOUNT_ID,
    LANA_PROCESS_TYPE,
    LANA_COLLATERALIZATION,
    LANA_STEP,
    LANA_OBLIGATION_STATUS,
    LANA_NEXT_ACCRUAL_DATE,
    LANA_LIQUIDATION_EXPECTED_CENTS,
    LANA_LIQUIDATION_RECEIVED_CENTS,
    LANA_LIQUIDATION_SENT_SATS,
]

_FLAG_TYPES = {"KEYWORD": "Keyword", "INT": "Int"}


def dev_server_flags() -> list[str]:
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}={_FLAG_TYPES[key.indexed_value_type.name]}"]
    return flags
