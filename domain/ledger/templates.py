"""Transaction templates: named, versioned, typed parameters → entries (pure).

Business modules post by template code and parameters only (``activities.ledger.post``). A template
is a pure function from validated parameters to a :class:`TxSpec`; templates are defined here (or in
a module's own ``domain`` package, registered with :func:`register`) at import time, i.e. at start-up.
Codes and entry types follow ledger.md Part B; amounts are integers in minor units.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.ledger.errors import InvalidTemplateParams, UnknownTemplate
from domain.ledger.model import Currency, Direction, Entry, Layer, TxSpec, validate_entries

_REQUIRED = object()


def _uuid(v: Any) -> uuid.UUID:
    return v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))


def _amount(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ValueError("must be a positive integer in minor units")
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("must be a string")
    return v


def _date(v: Any) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))


PARAM_TYPES: dict[str, Callable[[Any], Any]] = {
    "uuid": _uuid, "amount": _amount, "string": _str, "date": _date,
    "json": lambda v: v, "currency": lambda v: Currency(v), "layer": lambda v: Layer(v), "direction": lambda v: Direction(v),
}


@dataclass(frozen=True)
class Param:
    type: str
    default: Any = _REQUIRED


@dataclass(frozen=True)
class Template:
    code: str
    version: int
    params: Mapping[str, Param]
    build: Callable[[dict[str, Any]], TxSpec] = field(repr=False)
    description: str = ""

    def bind(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and coerce ``raw`` parameters (unknown, missing or mistyped → 422)."""
        unknown = sorted(set(raw) - set(self.params))
        if unknown:
            raise InvalidTemplateParams(f"{self.code}: unknown parameters {unknown}.", template=self.code)
        out: dict[str, Any] = {}
        for name, spec in self.params.items():
            if name not in raw or raw[name] is None:
                if spec.default is _REQUIRED:
                    raise InvalidTemplateParams(f"{self.code}: parameter {name!r} is required.",
                                                template=self.code)
                out[name] = spec.default
                continue
            try:
                out[name] = PARAM_TYPES[spec.type](raw[name])
            except (ValueError, TypeError, AttributeError) as exc:
                raise InvalidTemplateParams(f"{self.code}: parameter {name!r} ({spec.type}) {exc}.",
                                            template=self.code) from exc
        return out

    def evaluate(self, raw: Mapping[str, Any]) -> tuple[dict[str, Any], TxSpec]:
        params = self.bind(raw)
        spec = self.build(params)
        validate_entries(spec.entries)
        return params, spec


REGISTRY: dict[str, dict[int, Template]] = {}


def register(t: Template) -> Template:
    versions = REGISTRY.setdefault(t.code, {})
    if t.version in versions and versions[t.version] is not t:
        raise ValueError(f"template {t.code} v{t.version} registered twice")
    versions[t.version] = t
    return t


def get(code: str, version: int | None = None) -> Template:
    versions = REGISTRY.get(code)
    if not versions or (version is not None and version not in versions):
        raise UnknownTemplate(f"No transaction template {code!r}" + (f" v{version}." if version else "."))
    return versions[version if version is not None else max(versions)]


def template(code: str, params: Mapping[str, Param], *, version: int = 1, description: str = ""):
    """Decorator: register ``fn(params) -> TxSpec | list[Entry]`` as template ``code``."""

    def wrap(fn: Callable[[dict[str, Any]], Any]) -> Template:
        def build(p: dict[str, Any]) -> TxSpec:
            out = fn(p)
            return out if isinstance(out, TxSpec) else TxSpec(tuple(out), description=description)

        return register(Template(code, version, dict(params), build, description))

    return wrap


DR, CR = Direction.DEBIT, Direction.CREDIT
SETTLED, PENDING = Layer.SETTLED, Layer.PENDING
AMOUNT, ID = Param("amount"), Param("uuid")
USD_DEFAULT = Param("currency", Currency.USD)


def _e(account, units, currency, direction, layer, entry_type) -> Entry:
    return Entry(account, units, currency, direction, layer, entry_type)


@template("TRANSFER", {"from_account_id": ID, "to_account_id": ID, "amount": AMOUNT,
                       "currency": USD_DEFAULT, "layer": Param("layer", SETTLED)},
          description="Transfer")
def transfer(p):
    return [_e(p["from_account_id"], p["amount"], p["currency"], DR, p["layer"], "TRANSFER_DR"),
            _e(p["to_account_id"], p["amount"], p["currency"], CR, p["layer"], "TRANSFER_CR")]


# --- Deposits and withdrawals (ledger.md B5.1); DEP_OMNI is debit-normal, CUST_DEP credit-normal.
_DEPOSIT_PARAMS = {"deposit_omnibus_account_id": ID, "credit_account_id": ID, "amount": AMOUNT,
                   "currency": USD_DEFAULT}


def _pair(code: str, p, omni_dir: Direction, layer: Layer, suffix: str = "") -> list[Entry]:
    """Two entries: omnibus on ``omni_dir``, customer account on the other side."""
    cust_dir = CR if omni_dir == DR else DR
    tag = {DR: "DR", CR: "CR"}
    return [_e(p["deposit_omnibus_account_id"], p["amount"], p["currency"], omni_dir, layer,
               f"{code}{suffix}_{tag[omni_dir]}"),
            _e(p["credit_account_id"], p["amount"], p["currency"], cust_dir, layer,
               f"{code}{suffix}_{tag[cust_dir]}")]


@template("RECORD_DEPOSIT", _DEPOSIT_PARAMS, description="Record a deposit")
def record_deposit(p):
    return _pair("RECORD_DEPOSIT", p, DR, SETTLED)


@template("REVERT_DEPOSIT", _DEPOSIT_PARAMS, description="Revert a deposit")
def revert_deposit(p):
    return _pair("REVERT_DEPOSIT", p, CR, SETTLED)


@template("INITIATE_WITHDRAW", _DEPOSIT_PARAMS, description="Initiate a withdrawal")
def initiate_withdraw(p):
    return (_pair("INITIATE_WITHDRAW", p, CR, SETTLED, "_SETTLED")
            + _pair("INITIATE_WITHDRAW", p, DR, PENDING, "_PENDING"))


@template("CONFIRM_WITHDRAW", _DEPOSIT_PARAMS, description="Confirm a withdrawal")
def confirm_withdraw(p):
    return _pair("CONFIRM_WITHDRAW", p, CR, PENDING, "_PENDING")


def _restore(code: str):
    def build(p):
        return _pair(code, p, CR, PENDING, "_PENDING") + _pair(code, p, DR, SETTLED, "_SETTLED")

    return build


deny_withdraw = template("DENY_WITHDRAW", _DEPOSIT_PARAMS, description="Deny a withdrawal")(
    _restore("DENY_WITHDRAW"))
cancel_withdraw = template("CANCEL_WITHDRAW", _DEPOSIT_PARAMS, description="Cancel a withdrawal")(
    _restore("CANCEL_WITHDRAW"))


@template("REVERT_WITHDRAW", _DEPOSIT_PARAMS, description="Revert a withdrawal")
def revert_withdraw(p):
    return _pair("REVERT_WITHDRAW", p, DR, SETTLED, "_SETTLED")


_FREEZE_PARAMS = {"account_id": ID, "frozen_accounts_account_id": ID, "amount": AMOUNT,
                  "currency": USD_DEFAULT}


@template("FREEZE_ACCOUNT", _FREEZE_PARAMS, description="Freeze a deposit account")
def freeze_account(p):
    return [_e(p["account_id"], p["amount"], p["currency"], DR, SETTLED, "FREEZE_ACCOUNT_DR"),
            _e(p["frozen_accounts_account_id"], p["amount"], p["currency"], CR, SETTLED, "FREEZE_ACCOUNT_CR")]


@template("UNFREEZE_ACCOUNT", _FREEZE_PARAMS, description="Unfreeze a deposit account")
def unfreeze_account(p):
    return [_e(p["frozen_accounts_account_id"], p["amount"], p["currency"], DR, SETTLED,
               "UNFREEZE_ACCOUNT_DR"),
            _e(p["account_id"], p["amount"], p["currency"], CR, SETTLED, "UNFREEZE_ACCOUNT_CR")]


# Module templates register themselves on import (kept in their own files).
from domain.ledger import credit_templates  # noqa: E402,F401
