"""Base config (the category roots, accounting.md §3) and module configs (§4): which chart node each
product set hangs under. Module configs are translated into *placement rules*: a product-set key
pattern (SQL LIKE, ``%`` = anything) → chart code, the longest matching pattern winning, so a product
set created later (a new customer type, a new term class) still finds its node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.accounting.codes import Code, fmt, is_parent_of, is_top_level, parse_code
from domain.accounting.errors import InvalidAccountCategory, InvalidBaseConfig, InvalidModuleConfig

CATEGORIES = ("assets", "liabilities", "equity", "revenue", "cost_of_revenue", "expenses")
BASE_KEYS = tuple(f"{c}_code" for c in CATEGORIES) + (
    "equity_retained_earnings_gain_code", "equity_retained_earnings_loss_code")
OFF_BALANCE = "off_balance"


@dataclass(frozen=True)
class BaseConfig:
    codes: Mapping[str, str]

    def category_code(self, category: str) -> Code:
        return parse_code(self.codes[f"{category}_code"])

    def category_of(self, code: Code) -> str:
        for cat in CATEGORIES:
            root = self.category_code(cat)
            if code == root or is_parent_of(root, code):
                return cat
        return OFF_BALANCE

    def as_dict(self) -> dict[str, str]:
        return {k: self.codes[k] for k in BASE_KEYS}


def validate_base_config(raw: Mapping[str, object], nodes: Mapping[Code, Code | None]) -> BaseConfig:
    """``nodes`` maps every chart code to its parent code (None for top-level)."""
    missing = [k for k in BASE_KEYS if not isinstance(raw.get(k), str)]
    unknown = sorted(set(raw) - set(BASE_KEYS))
    if missing or unknown:
        raise InvalidBaseConfig(f"Base config needs exactly {list(BASE_KEYS)}; missing {missing}, unknown {unknown}.")
    codes = {k: parse_code(str(raw[k])) for k in BASE_KEYS}
    for k, c in codes.items():
        if c not in nodes:
            raise InvalidBaseConfig(f"{k}: code {fmt(c)} not found in chart.", code="accounting.code_not_found_in_chart")
    cats = [codes[f"{c}_code"] for c in CATEGORIES]
    for cat, c in zip(CATEGORIES, cats, strict=True):
        if not is_top_level(c) or nodes[c] is not None:
            raise InvalidBaseConfig(f"{cat}_code {fmt(c)} is not a top-level code.",
                                    code="accounting.account_code_not_top_level")
    if len(set(cats)) != len(cats):
        raise InvalidBaseConfig("The six category codes must be distinct.", code="accounting.duplicate_account_code")
    for k in ("equity_retained_earnings_gain_code", "equity_retained_earnings_loss_code"):
        if not is_parent_of(codes["equity_code"], codes[k]):
            raise InvalidBaseConfig(f"{k} {fmt(codes[k])} is not under equity.",
                                    code="accounting.retained_earnings_code_not_child_of_equity")
    return BaseConfig({k: fmt(v) for k, v in codes.items()})


# --- Module configs --------------------------------------------------------------------------

DEPOSIT_TYPES = ("individual", "government_entity", "private_company", "bank", "financial_institution",
                 "non_domiciled_company")
CREDIT_TYPES = (*DEPOSIT_TYPES[:5], "foreign_agency_or_subsidiary", "non_domiciled_company")
OPTIONAL_DEPOSIT_TYPES = ("foreign_agency_or_subsidiary",)


def _slug(t: str) -> str:
    return t.replace("_", "-")


@dataclass(frozen=True)
class KeySpec:
    pattern: str  # product-set key or LIKE pattern
    category: str  # required category of the node
    required: bool = True


def _deposit_keys() -> dict[str, KeySpec]:
    keys = {"omnibus_parent_code": KeySpec("deposit.omnibus", "assets")}
    for t in (*DEPOSIT_TYPES, *OPTIONAL_DEPOSIT_TYPES):
        req = t not in OPTIONAL_DEPOSIT_TYPES
        keys[f"{t}_deposit_accounts_parent_code"] = KeySpec(f"deposit.accounts.{_slug(t)}", "liabilities", req)
        keys[f"frozen_{t}_deposit_accounts_parent_code"] = KeySpec(f"deposit.frozen.{_slug(t)}", "liabilities", req)
    return keys


def _credit_keys() -> dict[str, KeySpec]:
    off = OFF_BALANCE
    keys = {
        "facility_omnibus_parent_code": KeySpec("credit.facility-omnibus", off),
        "collateral_omnibus_parent_code": KeySpec("credit.collateral-omnibus", off),
        "liquidation_proceeds_omnibus_parent_code": KeySpec("credit.liquidation-proceeds-omnibus", off),
        "payments_made_omnibus_parent_code": KeySpec("credit.payments-made-omnibus", off),
        "interest_added_to_obligations_omnibus_parent_code":
            KeySpec("credit.interest-added-to-obligations-omnibus", off),
        "facility_parent_code": KeySpec("credit.facility.%", off),
        "collateral_parent_code": KeySpec("credit.collateral", off),
        "collateral_in_liquidation_parent_code": KeySpec("credit.collateral-in-liquidation", off),
        "liquidated_collateral_parent_code": KeySpec("credit.liquidated-collateral", off),
        "proceeds_from_liquidation_parent_code": KeySpec("credit.proceeds-from-liquidation", off),
        "uncovered_outstanding_parent_code": KeySpec("credit.uncovered-outstanding", off),
        "interest_income_parent_code": KeySpec("credit.interest-income", "revenue"),
        "fee_income_parent_code": KeySpec("credit.fee-income", "revenue"),
        "payment_holding_parent_code": KeySpec("credit.payment-holding", "assets"),
        "disbursed_defaulted_parent_code": KeySpec("credit.disbursed-defaulted", "assets"),
        "interest_defaulted_parent_code": KeySpec("credit.interest-defaulted", "assets"),
    }
    for t in CREDIT_TYPES:
        for term in ("short", "long"):
            keys[f"{term}_term_{t}_disbursed_receivable_parent_code"] = KeySpec(
                f"credit.disbursed-receivable.{term}.{_slug(t)}", "assets")
            keys[f"{term}_term_{t}_interest_receivable_parent_code"] = KeySpec(
                f"credit.interest-receivable.{term}.{_slug(t)}", "assets")
        keys[f"overdue_{t}_disbursed_receivable_parent_code"] = KeySpec(
            f"credit.disbursed-receivable.overdue.{_slug(t)}", "assets")
    return keys


MODULE_KEYS: dict[str, dict[str, KeySpec]] = {"deposit": _deposit_keys(), "credit": _credit_keys()}
# Fallbacks (shorter patterns lose to exact keys): a product set of a type the config does not name
# goes where individuals' go.
FALLBACKS = {"deposit": {"deposit.accounts.%": "individual_deposit_accounts_parent_code",
                         "deposit.frozen.%": "frozen_individual_deposit_accounts_parent_code"}}


def placement_rules(module: str, raw: Mapping[str, object], base: BaseConfig,
                    nodes: Mapping[Code, object]) -> dict[str, str]:
    """Validate a module config → ``{product key pattern: chart code}``."""
    specs = MODULE_KEYS.get(module)
    if specs is None:
        raise InvalidModuleConfig(f"Unknown module {module!r}.")
    unknown = sorted(set(raw) - set(specs))
    missing = sorted(k for k, s in specs.items() if s.required and k not in raw)
    if unknown or missing:
        raise InvalidModuleConfig(f"{module} config: missing keys {missing}, unknown keys {unknown}.")
    rules: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise InvalidModuleConfig(f"{key} must be a code string.")
        code = parse_code(value)
        if code not in nodes:
            raise InvalidModuleConfig(f"{key}: code {fmt(code)} not found in chart.",
                                      code="accounting.code_not_found_in_chart")
        spec = specs[key]
        if base.category_of(code) != spec.category:
            raise InvalidAccountCategory(f"{key}: code {fmt(code)} is not in category {spec.category}.",
                                         code_value=fmt(code), category=spec.category)
        rules[spec.pattern] = fmt(code)
    for pattern, key in FALLBACKS.get(module, {}).items():
        rules.setdefault(pattern, fmt(parse_code(str(raw[key]))))
    return rules
