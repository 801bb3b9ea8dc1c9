"""Transaction templates: named, versioned, typed parameters → entries (pure).

Business modules post by template code and parameters only (``activities.ledger.post``). A template
is a pure function from validated parameters to a :class:`TxSpec`. This file holds the machinery
(and the ledger's own ``TRANSFER``); each module defines its templates in its own ``domain`` package
and lists them in a ``TEMPLATES`` list, and ``domain/ledger/catalogue.py`` registers them all.
Defining a template registers nothing. Codes and entry types follow ledger.md Part B; amounts are
integers in minor units.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.ledger.errors import InvalidTemplateParams
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


def template(code: str, params: Mapping[str, Param], *, version: int = 1, description: str = ""):
    """Decorator: turn ``fn(params) -> TxSpec | list[Entry]`` into template ``code`` (not registered)."""

    def wrap(fn: Callable[[dict[str, Any]], Any]) -> Template:
        def build(p: dict[str, Any]) -> TxSpec:
            out = fn(p)
            return out if isinstance(out, TxSpec) else TxSpec(tuple(out), description=description)

        return Template(code, version, dict(params), build, description)

    return wrap


DR, CR = Direction.DEBIT, Direction.CREDIT
SETTLED, PENDING = Layer.SETTLED, Layer.PENDING
AMOUNT, ID = Param("amount"), Param("uuid")
USD_DEFAULT = Param("currency", Currency.USD)


def entry(account, units, currency, direction, layer, entry_type) -> Entry:
    return Entry(account, units, currency, direction, layer, entry_type)


@template("TRANSFER", {"from_account_id": ID, "to_account_id": ID, "amount": AMOUNT,
                       "currency": USD_DEFAULT, "layer": Param("layer", SETTLED)},
          description="Transfer")
def transfer(p):
    return [entry(p["from_account_id"], p["amount"], p["currency"], DR, p["layer"], "TRANSFER_DR"),
            entry(p["to_account_id"], p["amount"], p["currency"], CR, p["layer"], "TRANSFER_CR")]
