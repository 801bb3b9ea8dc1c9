"""Custodian configs at rest: ChaCha20-Poly1305 (``cryptography``), custody-price-reports.md §1.4.

An encrypted value is ``{"ciphertext", "nonce", "key_id"}`` (base64 strings; random 96-bit nonce;
``key_id`` = hex of the first 8 bytes of SHA-256(key)), so every value names the key it needs. The
associated data binds a ciphertext to its custodian (``custodian:<id>``): one custodian's value
copied onto another's row does not decrypt.

Keys: ``LANA_CUSTODY_ENCRYPTION_KEY`` = 64 hex chars (32 bytes), required in production;
development without one derives a key from a secret generated once into the data directory.
``LANA_CUSTODY_DEPRECATED_ENCRYPTION_KEY`` is the previous key during a rotation: values under it
still decrypt, and start-up (or ``lana custody rotate-key``) re-encrypts them under the current key.
A value under any other key id is ``StaleEncryptionKey``, naming the key id.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from pydantic import SecretStr

from domain.custody.config import CorruptEncryptedValue
from domain.custody.model import StaleEncryptionKey
from ground.secrets import required_secret
from ground.settings import Settings

KEY_ENV = "LANA_CUSTODY_ENCRYPTION_KEY"
DEPRECATED_KEY_ENV = "LANA_CUSTODY_DEPRECATED_ENCRYPTION_KEY"
DEV_KEY_FILE = "custody-encryption-key"


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).digest()[:8].hex()


def parse_key(value: str, env_name: str) -> bytes:
    try:
        key = bytes.fromhex(value.strip())
    except ValueError:
        raise ValueError(f"{env_name} must be 64 hex characters (32 bytes), e.g. `openssl rand -hex 32`") from None
    if len(key) != 32:
        raise ValueError(f"{env_name} must be 64 hex characters (32 bytes), not {len(value.strip())}")
    return key


@dataclass(frozen=True)
class Keyring:
    current: bytes = field(repr=False)
    deprecated: bytes | None = field(default=None, repr=False)

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    @property
    def deprecated_id(self) -> str | None:
        return key_id(self.deprecated) if self.deprecated is not None else None

    def __repr__(self) -> str:
        return f"Keyring(current={self.current_id}, deprecated={self.deprecated_id})"

    def encrypt(self, plaintext: bytes, *, context: str) -> dict[str, str]:
        nonce = os.urandom(12)
        ciphertext = ChaCha20Poly1305(self.current).encrypt(nonce, plaintext, context.encode())
        return {"ciphertext": base64.b64encode(ciphertext).decode(), "nonce": base64.b64encode(nonce).decode(),
                "key_id": self.current_id}

    def decrypt(self, value: dict[str, str], *, context: str) -> bytes:
        wanted = value.get("key_id")
        keys = {self.current_id: self.current}
        if self.deprecated is not None:
            keys[key_id(self.deprecated)] = self.deprecated
        key = keys.get(wanted) if isinstance(wanted, str) else None
        if key is None:
            raise StaleEncryptionKey(
                f"the custodian configuration is encrypted under key id {wanted!r}, which is neither the current "
                f"key ({self.current_id}) nor the deprecated one ({self.deprecated_id}): set that key as "
                f"{DEPRECATED_KEY_ENV} to read and re-encrypt it", key_id=wanted)
        try:
            return ChaCha20Poly1305(key).decrypt(base64.b64decode(value["nonce"]),
                                                 base64.b64decode(value["ciphertext"]), context.encode())
        except (InvalidTag, KeyError, ValueError):
            raise CorruptEncryptedValue(f"the configuration under key id {wanted} does not decrypt "
                                        "(tampered, or another custodian's value)") from None

    def is_current(self, value: dict[str, str] | None) -> bool:
        return value is not None and value.get("key_id") == self.current_id


def keyring_from_settings(settings: Settings) -> Keyring:
    """The keyring of this process: ``ValueError`` at start-up for a missing (production) or
    malformed key."""
    configured = settings.custody_encryption_key
    if configured is not None and configured.get_secret_value():
        current = parse_key(configured.get_secret_value(), KEY_ENV)
    else:
        if settings.is_production:
            raise ValueError(f"production needs {KEY_ENV}: 64 hex characters (32 random bytes, "
                             "`lana custody gen-key` or `openssl rand -hex 32`)")
        # development derives a 32-byte key from a secret generated once into the data directory
        secret = required_secret(settings, None, KEY_ENV, DEV_KEY_FILE)
        current = hashlib.sha256(secret.encode()).digest()
    deprecated_value: SecretStr | None = settings.custody_deprecated_encryption_key
    deprecated = None
    if deprecated_value is not None and deprecated_value.get_secret_value():
        deprecated = parse_key(deprecated_value.get_secret_value(), DEPRECATED_KEY_ENV)
        if deprecated == current:
            deprecated = None
    return Keyring(current, deprecated)


def custodian_context(custodian_id: str) -> str:
    return f"custodian:{custodian_id}"
