"""What each custodian kind stores, encrypted (custody-price-reports.md §1.3).

Pure: pydantic models, no I/O. A config is a JSON document tagged ``type`` (``bitgo``, ``komainu``,
``self_custody``, ``manual``, ``mock``). Every credential is a ``SecretStr``, so a config that
reaches a log line, a traceback or a ``repr`` shows ``'**********'``, never the value; only
:func:`config_plaintext` (what the cipher encrypts) reveals them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError, field_validator

from domain.custody.model import Network, Provider
from domain.errors import LanaError, ValidationFailed, register


@register
class CustodianConfigInvalid(ValidationFailed):
    code = "custody.custodian_config_invalid"
    title = "Custodian configuration is invalid"


@register
class XpubNetworkMismatch(ValidationFailed):
    code = "custody.xpub_network_mismatch"
    title = "The account xpub is not of the custodian's network"


@register
class MissingEsploraUrlForNetwork(ValidationFailed):
    code = "custody.missing_esplora_url_for_network"
    title = "No Esplora URL is configured for this network"


@register
class CorruptEncryptedValue(LanaError):
    code = "custody.corrupt_encrypted_value"
    status = 500
    title = "A stored custodian configuration does not decrypt"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class BitGoConfig(_Config):
    type: Literal["bitgo"] = "bitgo"
    long_lived_token: SecretStr
    enterprise_id: str = Field(min_length=1, max_length=200)
    passphrase: SecretStr
    testing_instance: bool = False
    webhook_url: str = Field(min_length=1, max_length=2000)
    webhook_secret: SecretStr

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str) -> str:
        # §1.5 Spec rule: an invalid webhook URL is a validation error (lana panics)
        if not value.startswith(("https://", "http://")) or " " in value or len(value.split("//", 1)[1]) < 1:
            raise ValueError("webhook_url must be an http(s) URL")
        return value

    @property
    def coin(self) -> str:
        return "tbtc4" if self.testing_instance else "btc"


class KomainuConfig(_Config):
    type: Literal["komainu"] = "komainu"
    api_key: SecretStr
    api_secret: SecretStr
    testing_instance: bool = False
    secret_key: SecretStr  # unencrypted PKCS#8 PEM, P-256: signs every request (§1.3)
    webhook_secret: SecretStr


class SelfCustodyConfig(_Config):
    type: Literal["self_custody"] = "self_custody"
    account_xpub: str = Field(min_length=1, max_length=200)  # public: only the xpub ever enters lana
    network: Network


class ManualConfig(_Config):
    type: Literal["manual"] = "manual"


class MockConfig(_Config):
    type: Literal["mock"] = "mock"


CustodianConfig = Annotated[BitGoConfig | KomainuConfig | SelfCustodyConfig | ManualConfig | MockConfig,
                            Field(discriminator="type")]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(CustodianConfig)

CONFIG_TYPE = {Provider.BITGO: "bitgo", Provider.KOMAINU: "komainu", Provider.SELF_CUSTODY: "self_custody",
               Provider.MANUAL: "manual", Provider.MOCK: "mock"}


def parse_config(provider: Provider | str, data: dict[str, Any]) -> BitGoConfig | KomainuConfig | \
        SelfCustodyConfig | ManualConfig | MockConfig:
    """A config document (``type`` optional: it defaults to the provider's) → its model.

    §1.5 Spec rule: a config whose kind differs from the custodian's provider is refused."""
    provider = Provider(provider)
    expected = CONFIG_TYPE[provider]
    data = dict(data)
    kind = data.setdefault("type", expected)
    if kind != expected:
        raise CustodianConfigInvalid(f"a {provider.value} custodian takes a {expected!r} config, not {kind!r}")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        # field names and messages only: the input values (credentials) never reach the error
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
                             for e in exc.errors(include_input=False, include_url=False))
        raise CustodianConfigInvalid(f"invalid {provider.value} config: {problems}") from None


def config_plaintext(config: BaseModel) -> bytes:
    """The JSON the cipher encrypts, secrets revealed, keys sorted (so equal configs are equal bytes)."""
    def reveal(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, dict):
            return {k: reveal(v) for k, v in value.items()}
        return value
    return json.dumps(reveal(dict(config.model_dump(mode="python"))), sort_keys=True, default=str,
                      separators=(",", ":")).encode()


def config_from_plaintext(provider: Provider | str, plaintext: bytes):
    return parse_config(provider, json.loads(plaintext))
