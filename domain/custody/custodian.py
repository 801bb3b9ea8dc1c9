"""The custodian aggregate (custody-price-reports.md §1.2, §1.5).

Events: ``initialized{id, name, provider}``, ``config_updated{encrypted_custodian_config}`` (at
creation, on an operator's update and on a key rotation), ``receive_index_allocated{receive_index}``
(self-custody: the derivation index of the next wallet, never reused). No status. The config is only
ever held encrypted here (``{ciphertext, nonce, key_id}``): the aggregate never sees a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from domain.custody.config import CONFIG_TYPE, CustodianConfigInvalid
from domain.custody.model import Provider
from domain.errors import Conflict, ValidationFailed, register
from domain.events import EventSourced

NAME_MAX = 200


@register
class CustodianAlreadyExists(Conflict):
    """§1.2: names are unique and there is at most one custodian per provider."""

    code = "custody.custodian_already_exists"
    title = "A custodian with this name or provider already exists"


@register
class ConfigNotUpdatable(ValidationFailed):
    code = "custody.config_not_updatable"
    title = "This custodian has no configuration to replace"


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise ValidationFailed(f"a custodian name has 1 to {NAME_MAX} characters")
    return name


@dataclass
class Custodian(EventSourced):
    entity_type: ClassVar[str] = "custodian"
    name: str = ""
    provider: Provider = Provider.MANUAL
    encrypted_config: dict[str, Any] | None = field(default=None, repr=False)
    next_receive_index: int = 0
    created_by: str = ""

    @classmethod
    def create(cls, custodian_id: str, name: str, provider: Provider, encrypted_config: dict[str, Any],
               actor: str) -> Custodian:
        c = cls(id=custodian_id)
        c.record("initialized", {"id": custodian_id, "name": check_name(name), "provider": Provider(provider).value,
                                 "created_by": actor})
        c.record("config_updated", {"encrypted_custodian_config": encrypted_config})
        return c

    @property
    def key_id(self) -> str | None:
        return self.encrypted_config.get("key_id") if self.encrypted_config else None

    def check_config_kind(self, config_type: str) -> None:
        """§1.5 Spec rule: a config of another kind than the provider is refused."""
        if self.provider in (Provider.MANUAL, Provider.MOCK):
            raise ConfigNotUpdatable(f"a {self.provider.value} custodian has no credentials to replace")
        if CONFIG_TYPE[self.provider] != config_type:
            raise CustodianConfigInvalid(f"a {self.provider.value} custodian takes a "
                                         f"{CONFIG_TYPE[self.provider]!r} config, not {config_type!r}")

    def update_config(self, encrypted_config: dict[str, Any]) -> None:
        self.record("config_updated", {"encrypted_custodian_config": encrypted_config})

    def allocate_receive_index(self) -> int:
        if self.provider is not Provider.SELF_CUSTODY:
            raise ValidationFailed(f"a {self.provider.value} custodian derives no addresses")
        index = self.next_receive_index
        self.record("receive_index_allocated", {"receive_index": index})
        return index

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        match event_type:
            case "initialized":
                self.id, self.name = payload["id"], payload["name"]
                self.provider, self.created_by = Provider(payload["provider"]), payload.get("created_by", "")
            case "config_updated":
                self.encrypted_config = payload["encrypted_custodian_config"]
            case "receive_index_allocated":
                self.next_receive_index = payload["receive_index"] + 1
