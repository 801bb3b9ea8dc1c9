"""The full permission catalogue, its permission sets and the predefined roles.

Source: governance-access-audit.md §B4. A permission is an action ``module:entity:action`` on the
object ``module/entity/*`` (all grants are wildcards, §B2). Each action belongs to exactly one
permission set; a role holds permission sets; a user holds exactly one role.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# (module, entity, {permission set: [actions]}) — §B4.2, with the spec rule for credit-collateral.
_CATALOGUE: list[tuple[str, str, dict[str, list[str]]]] = [
    ("audit", "audit", {"audit_viewer": ["list"]}),
    ("domain-config", "exposed-config", {"exposed_config_viewer": ["read"], "exposed_config_writer": ["write"]}),
    ("domain-config", "all-config", {"all_config_writer": ["write"]}),
    ("governance", "committee", {"governance_viewer": ["read", "list"],
                                 "governance_writer": ["create", "add-member", "remove-member"]}),
    ("governance", "policy", {"governance_viewer": ["read", "list"],
                              "governance_writer": ["create", "update-policy-rules"]}),
    ("governance", "approval-process", {"governance_viewer": ["read", "list"],
                                        "governance_writer": ["create", "approve", "deny", "conclude"]}),
    ("access", "user", {"access_viewer": ["read", "list"], "access_writer": ["create", "update", "update-role"]}),
    ("access", "role", {"access_viewer": ["read", "list"], "access_writer": ["create", "update"]}),
    ("access", "permission-set", {"access_viewer": ["list"]}),
    ("customer", "customer", {"customer_viewer": ["read", "list"],
                              "customer_writer": ["create", "update", "close", "start-kyc", "approve-kyc",
                                                  "decline-kyc", "freeze", "unfreeze"]}),
    ("customer", "customer-document", {"customer_viewer": ["read", "list", "generate-download-link"],
                                       "customer_writer": ["create", "delete"]}),
    ("customer", "prospect", {"customer_viewer": ["read", "list"],
                              "customer_writer": ["create", "update", "close", "start-kyc", "approve-kyc",
                                                  "decline-kyc"]}),
    ("customer", "party", {"customer_viewer": ["read"], "customer_writer": ["update"]}),
    ("accounting", "chart", {"accounting_viewer": ["list"],
                             "accounting_writer": ["create", "update", "import-accounts", "close-monthly"]}),
    ("accounting", "journal", {"accounting_viewer": ["read-entries"]}),
    ("accounting", "ledger-account", {"accounting_viewer": ["read", "list", "read-history"]}),
    # Extension (not in lana): the ledger's account sets get their own read permissions.
    ("accounting", "ledger-account-set", {"accounting_viewer": ["read", "list"]}),
    ("accounting", "ledger-transaction", {"accounting_viewer": ["read", "list", "read-history"]}),
    ("accounting", "transaction-template", {"accounting_viewer": ["list"]}),
    ("accounting", "manual-transaction", {"accounting_viewer": ["read", "list"], "accounting_writer": ["create"]}),
    ("accounting", "profit-and-loss", {"accounting_viewer": ["read"], "accounting_writer": ["create", "update"]}),
    ("accounting", "profit-and-loss-configuration", {"accounting_viewer": ["read"],
                                                     "accounting_writer": ["update"]}),
    ("accounting", "balance-sheet", {"accounting_viewer": ["read"], "accounting_writer": ["create"]}),
    ("accounting", "balance-sheet-configuration", {"accounting_viewer": ["read"], "accounting_writer": ["update"]}),
    ("accounting", "accounting-csv", {"accounting_viewer": ["read", "list", "download"],
                                      "accounting_writer": ["create", "generate"]}),
    ("accounting", "trial-balance", {"accounting_viewer": ["read"], "accounting_writer": ["create", "update"]}),
    ("accounting", "fiscal-year", {"accounting_viewer": ["read", "list"],
                                   "accounting_writer": ["create", "close-month", "close"]}),
    ("dashboard", "dashboard", {"dashboard_viewer": ["read"]}),
    ("deposit", "deposit-account", {"deposit_viewer": ["read", "list", "read-balance", "read-tx-history"],
                                    "deposit_writer": ["create", "update-status", "close"],
                                    "deposit_freeze": ["freeze"], "deposit_unfreeze": ["unfreeze"]}),
    ("deposit", "deposit", {"deposit_viewer": ["read", "list"], "deposit_writer": ["create", "revert"]}),
    ("deposit", "chart-of-accounts-integration-config", {"deposit_viewer": ["read"], "deposit_writer": ["update"]}),
    ("deposit", "withdrawal", {"deposit_viewer": ["read", "list"],
                               "deposit_writer": ["initiate", "cancel", "confirm", "conclude-approval-process",
                                                  "revert"]}),
    ("credit", "credit-facility", {"credit_viewer": ["read", "list"],
                                   "credit_writer": ["create", "conclude-approval-process", "activate",
                                                     "record-interest", "complete",
                                                     "update-collateralization-state", "customer-approve"]}),
    ("credit", "chart-of-accounts-integration-config", {"credit_viewer": ["read"], "credit_writer": ["update"]}),
    ("credit", "disbursal", {"credit_viewer": ["read", "list"], "credit_writer": ["initiate", "settle"]}),
    ("credit", "obligation", {"collection_viewer": ["read"],
                              "collection_writer": ["update-status", "record-payment-allocation"],
                              "collection_payment_date": ["record-payment-allocation-with-date"]}),
    ("credit-collection", "obligation", {"collection_viewer": ["read"],
                                         "collection_writer": ["update-status", "record-payment-allocation"],
                                         "collection_payment_date": ["record-payment-allocation-with-date"]}),
    ("credit-collateral", "collateral", {"credit_writer": ["record-manual-update", "record-custodian-sync",
                                                           "record-liquidation-update",
                                                           "record-payment-received-from-liquidation"]}),
    ("credit-collateral", "liquidation", {"credit_viewer": ["read", "list"]}),
    ("terms", "terms-template", {"credit_term_templates_viewer": ["read", "list"],
                                 "credit_term_templates_writer": ["create", "update"]}),
    ("custody", "custodian", {"custody_viewer": ["list"], "custody_writer": ["create", "update", "create-wallet"]}),
    ("custody", "wallet", {"custody_writer": ["update"]}),
    ("price", "provider", {"price_viewer": ["list"], "price_writer": ["create", "update"]}),
    ("report", "report", {"report_viewer": ["read"], "report_writer": ["generate"]}),
    ("contract", "contract", {"contract_creation": ["create", "find", "generate-download-link"]}),
]

PERMISSION_SET_DESCRIPTIONS: dict[str, str] = {
    "access_viewer": "List and view users, roles and permission sets",
    "access_writer": "Create and update users and roles; assign and revoke roles",
    "accounting_viewer": "View accounting reports, journal, ledger accounts and transactions",
    "accounting_writer": "Manage charts, manual transactions, statements and related data",
    "audit_viewer": "View audit logs",
    "collection_viewer": "View collection (obligation) information",
    "collection_writer": "Manage collections (record payments, obligation status)",
    "collection_payment_date": "Record payments with a custom effective date",
    "contract_creation": "Generate and download loan agreements",
    "credit_term_templates_viewer": "View and list terms templates",
    "credit_term_templates_writer": "Create and update terms templates",
    "credit_viewer": "View facilities, disbursals, obligations, liquidations",
    "credit_writer": "Manage facilities, collateral, disbursals, interest, obligations",
    "custody_viewer": "View custodian configurations",
    "custody_writer": "Create and manage custodian configurations",
    "customer_viewer": "View customer profiles",
    "customer_writer": "Create, update and manage customers including KYC",
    "dashboard_viewer": "View dashboards",
    "deposit_viewer": "View deposit accounts, balances, history, withdrawals",
    "deposit_writer": "Manage deposits, accounts, withdrawals",
    "deposit_freeze": "Freeze deposit accounts",
    "deposit_unfreeze": "Unfreeze deposit accounts",
    "exposed_config_viewer": "View exposed configuration",
    "exposed_config_writer": "Update exposed configuration",
    "all_config_writer": "Update all configuration values",
    "governance_viewer": "View committees, policies, approval processes",
    "governance_writer": "Manage committees and policies; approve and deny",
    "price_viewer": "View price provider configurations",
    "price_writer": "Manage price provider configurations",
    "report_viewer": "See and download regulatory reports",
    "report_writer": "Trigger report generation",
}


@dataclass(frozen=True)
class Permission:
    object: str  # module/entity/*
    action: str  # module:entity:action


def _build() -> dict[str, list[Permission]]:
    sets: dict[str, list[Permission]] = {name: [] for name in PERMISSION_SET_DESCRIPTIONS}
    for module, entity, by_set in _CATALOGUE:
        for set_name, actions in by_set.items():
            for action in actions:
                sets[set_name].append(Permission(f"{module}/{entity}/*", f"{module}:{entity}:{action}"))
    return sets


PERMISSION_SETS: dict[str, list[Permission]] = _build()
ALL_ACTIONS: frozenset[str] = frozenset(p.action for perms in PERMISSION_SETS.values() for p in perms)

SUPERUSER = "superuser"
_VIEW_ALL = ["access_viewer", "accounting_viewer", "accounting_writer", "audit_viewer", "collection_viewer",
             "credit_viewer", "customer_viewer", "dashboard_viewer", "deposit_viewer", "governance_viewer"]
_BANK_MANAGER = _VIEW_ALL + ["collection_writer", "collection_payment_date", "credit_writer", "customer_writer",
                             "deposit_writer", "deposit_freeze", "deposit_unfreeze", "governance_writer",
                             "report_viewer", "report_writer"]
_ADMIN_LANA = _BANK_MANAGER + ["access_writer", "credit_term_templates_viewer", "credit_term_templates_writer",
                               "custody_viewer", "custody_writer", "exposed_config_viewer",
                               "exposed_config_writer"]
# Spec rule (§B4.3, recommended deviation): admin also manages price providers and loan agreements.
_ADMIN_EXTRA = ["price_viewer", "price_writer", "contract_creation"]

PREDEFINED_ROLES: dict[str, list[str]] = {
    SUPERUSER: sorted(PERMISSION_SETS),
    "admin": sorted(_ADMIN_LANA + _ADMIN_EXTRA),
    "bank-manager": sorted(_BANK_MANAGER),
    "accountant": sorted(_VIEW_ALL),
}

_NS = uuid.UUID("6f1c2a4e-8d7b-4c3e-9a51-2b7d0e4f1a90")


def permission_set_id(name: str) -> uuid.UUID:
    """Stable id, so every instance seeding concurrently agrees on it."""
    return uuid.uuid5(_NS, f"permission_set:{name}")


def predefined_role_id(name: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"role:{name}")


def set_of_action(action: str) -> str:
    for set_name, perms in PERMISSION_SETS.items():
        if any(p.action == action for p in perms):
            return set_name
    raise KeyError(action)
