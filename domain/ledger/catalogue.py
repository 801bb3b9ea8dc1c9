"""The one catalogue of ledger templates: every module's ``TEMPLATES``, registered explicitly.

Posting looks a template up here (:func:`template`), and importing this module is what defines
every template, so a lookup never depends on which module happened to be imported first. A new
module adds its list to ``ALL_TEMPLATES``; tests may :func:`register` their own.
"""

from __future__ import annotations

from domain.accounting import templates as accounting
from domain.credit import templates as credit
from domain.deposits import templates as deposits
from domain.ledger.errors import UnknownTemplate
from domain.ledger.templates import Template, transfer

ALL_TEMPLATES: list[Template] = [transfer, *deposits.TEMPLATES, *credit.TEMPLATES, *accounting.TEMPLATES]

REGISTRY: dict[str, dict[int, Template]] = {}


def register(t: Template) -> Template:
    versions = REGISTRY.setdefault(t.code, {})
    if t.version in versions and versions[t.version] is not t:
        raise ValueError(f"template {t.code} v{t.version} registered twice")
    versions[t.version] = t
    return t


def template(code: str, version: int | None = None) -> Template:
    """The template ``code`` (its latest version unless ``version`` is given)."""
    versions = REGISTRY.get(code)
    if not versions or (version is not None and version not in versions):
        raise UnknownTemplate(f"No transaction template {code!r}" + (f" v{version}." if version else "."))
    return versions[version if version is not None else max(versions)]


for _t in ALL_TEMPLATES:
    register(_t)
