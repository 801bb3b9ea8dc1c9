"""Bearer-token authentication: OIDC (JWKS) in production, a local signing key in development.

Two realms, each with its own issuer, audience, JWKS and development key (``Realm``): ``internal``
(operators) and ``customer`` (the portal, docs/portal.md). A token of one realm is refused by the
other's verifier: it names another issuer and audience, is signed by another key, and development
tokens carry the realm in claim ``lana_realm`` (checked whenever a token carries it).

An operator token's subject is the user id, taken from claim ``lanaId`` (direct IdP tokens),
``subject`` (gateway tokens) or ``sub``; it must be a UUID. A customer token names the customer by
claim ``customer_id`` (``lanaId``, ``subject``), else by ``email``. Failures raise
``Unauthenticated`` (401 problem+json) with a specific detail: missing, expired, invalid audience,
invalid token.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from domain.errors import Unauthenticated
from ground.settings import Settings

log = structlog.get_logger(__name__)
DEV_ISSUER = "lana-dev"
DEV_KEY_FILE = "dev-signing-key.pem"
SUBJECT_CLAIMS = ("lanaId", "subject", "sub")
REALM_CLAIM = "lana_realm"
INTERNAL, CUSTOMER = "internal", "customer"


@dataclass(frozen=True)
class Realm:
    """Where a token comes from and what it must say: one for operators, one for customers."""

    name: str
    issuer: str | None
    audience: str
    jwks_url: str | None
    dev_issuer: str
    dev_key_file: str
    subject_claims: tuple[str, ...]
    env_prefix: str  # of its settings, for error messages

    @classmethod
    def internal(cls, settings: Settings) -> Realm:
        return cls(INTERNAL, settings.oidc_issuer, settings.oidc_audience, settings.oidc_jwks_url, DEV_ISSUER,
                   DEV_KEY_FILE, SUBJECT_CLAIMS, "LANA_OIDC")

    @classmethod
    def customer(cls, settings: Settings) -> Realm:
        # not ``sub``: a customer realm's ``sub`` is the IdP's own user id, never the customer's
        return cls(CUSTOMER, settings.customer_oidc_issuer, settings.customer_oidc_audience,
                   settings.customer_oidc_jwks_url, "lana-dev-customer", "dev-customer-signing-key.pem",
                   ("customer_id", "lanaId", "subject"), "LANA_CUSTOMER_OIDC")


@dataclass(frozen=True)
class Identity:
    """Who a verified token names: an id (operator user or customer), or for customers an e-mail."""

    id: uuid.UUID | None
    email: str | None = None


def dev_signing_allowed(settings: Settings) -> bool:
    return settings.auth_dev_signing and not settings.is_production


class NoDevSigningKey(RuntimeError):
    """``lana token`` found no development key: it would sign with a key the API does not know."""


def dev_private_key(settings: Settings, *, create: bool = True, key_file: str = DEV_KEY_FILE) -> rsa.RSAPrivateKey:
    """A realm's development signing key, generated once into the data directory (mode 0600).

    ``create=False`` (``lana token``) never makes a new one: a token signed by a key the running
    API does not hold would only be refused."""
    path = Path(settings.data_dir) / key_file
    if not path.exists() and not create:
        raise NoDevSigningKey(f"no development signing key in {path.parent.resolve()}")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        tmp.replace(path)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)  # type: ignore[return-value]


def _kid(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    import hashlib

    return "lana-dev-" + hashlib.sha256(der).hexdigest()[:16]


def _issue(settings: Settings, realm: Realm, claims: dict, ttl_s: int | None, create_key: bool) -> str:
    if not dev_signing_allowed(settings):
        raise RuntimeError("development token signing is disabled: set LANA_AUTH_DEV_SIGNING=true "
                           "(never available in production)")
    key = dev_private_key(settings, create=create_key, key_file=realm.dev_key_file)
    now = int(time.time())
    claims = {"iss": realm.dev_issuer, "aud": realm.audience, REALM_CLAIM: realm.name, "iat": now,
              "exp": now + (ttl_s if ttl_s is not None else settings.auth_dev_token_ttl_s), **claims}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": _kid(key.public_key())})


def issue_dev_token(settings: Settings, user_id: uuid.UUID, *, ttl_s: int | None = None,
                    create_key: bool = True) -> str:
    """An operator's development token (realm ``internal``)."""
    return _issue(settings, Realm.internal(settings), {"sub": str(user_id)}, ttl_s, create_key)


def issue_customer_dev_token(settings: Settings, customer_id: uuid.UUID | None, *, email: str | None = None,
                             ttl_s: int | None = None, create_key: bool = True) -> str:
    """A customer's development token (realm ``customer``, its own key): by id, or only by e-mail."""
    claims = {"sub": f"customer-{customer_id or email}"}
    if customer_id is not None:
        claims["customer_id"] = str(customer_id)
    if email is not None:
        claims["email"] = email
    return _issue(settings, Realm.customer(settings), claims, ttl_s, create_key)


class JwksKeys:
    """The identity provider's signing keys by kid, fetched at most once per ``refetch_interval_s``.

    Keys are refreshed every ``lifespan_s``; a token naming a kid we do not know triggers a refetch
    (the provider may have rotated) only if none happened in the last ``refetch_interval_s``, so
    tokens with random kids cost no request to the provider and no thread waiting on one.
    """

    def __init__(self, url: str, *, lifespan_s: float, refetch_interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, cache_keys=False, timeout=10)
        self._lifespan, self._interval, self._clock = lifespan_s, refetch_interval_s, clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = self._attempted_at = -math.inf
        self._lock = threading.Lock()

    def _due(self, now: float, kid: str | None) -> bool:
        if now - self._attempted_at < self._interval:
            return False
        return kid not in self._keys or now - self._fetched_at >= self._lifespan

    def fetch_due(self, kid: str | None) -> bool:
        """Whether looking ``kid`` up would ask the provider (then call ``key`` from a thread)."""
        return isinstance(kid, str) and self._due(self._clock(), kid)

    def _fetch(self, now: float) -> None:
        self._attempted_at = now
        try:
            keys = self._client.get_signing_keys()
        except jwt.PyJWTError:  # unreachable, or not a usable key set
            log.warning("JWKS fetch failed; keeping the keys we have", keys=len(self._keys))
            return
        self._keys = {k.key_id: k for k in keys if k.key_id}
        self._fetched_at = now

    def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key for ``kid``, or None; blocks on the provider when ``fetch_due(kid)``."""
        if not isinstance(kid, str):
            return None
        if self.fetch_due(kid):
            with self._lock:
                now = self._clock()
                if self._due(now, kid):  # another thread may have fetched while we waited
                    self._fetch(now)
        return self._keys.get(kid)


VERIFIED_TTL_S = 60.0  # how long a verified token is taken as verified (never past its exp)
VERIFIED_MAX = 10_000  # tokens remembered at most (the memory is cleared when full)


class TokenVerifier:
    def __init__(self, settings: Settings, realm: Realm | None = None) -> None:
        self.settings = settings
        self.realm = realm = realm or Realm.internal(settings)
        self._verified: dict[str, tuple[Identity, float]] = {}  # token -> (identity, verified until)
        self.dev_key = None
        self.dev_kid = None
        if dev_signing_allowed(settings):
            self.dev_key = dev_private_key(settings, key_file=realm.dev_key_file).public_key()
            self.dev_kid = _kid(self.dev_key)
        if realm.jwks_url and not realm.issuer:
            raise ValueError(f"{realm.env_prefix}_ISSUER is required with {realm.env_prefix}_JWKS_URL: "
                             "tokens must name their issuer")
        if settings.is_production and not realm.jwks_url and realm.name == INTERNAL:
            raise ValueError("production needs an OIDC provider: set LANA_OIDC_JWKS_URL and LANA_OIDC_ISSUER")
        self.jwks = (JwksKeys(realm.jwks_url, lifespan_s=settings.oidc_jwks_lifespan_s,
                              refetch_interval_s=settings.oidc_jwks_refetch_interval_s)
                     if realm.jwks_url else None)

    async def user_id(self, authorization: str | None) -> uuid.UUID:
        """The operator the token names (``identity`` with an id required)."""
        found = await self.identity(authorization)
        if found.id is None:
            raise Unauthenticated("Invalid token subject.")
        return found.id

    async def identity(self, authorization: str | None) -> Identity:
        """The token's subject. A token verified in the last ``VERIFIED_TTL_S`` seconds (and not expired)
        is not verified again: parsing and the RSA check cost about a millisecond a request, and an
        operator's client sends the same token for minutes (the JWKS keys are cached longer)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthenticated("Missing token.")
        token = authorization[7:].strip()
        now = time.time()
        hit = self._verified.get(token)
        if hit is not None and now < hit[1]:
            return hit[0]
        found, expires = await self._verify(token)
        if len(self._verified) >= VERIFIED_MAX:
            self._verified.clear()
        self._verified[token] = (found, min(expires, now + VERIFIED_TTL_S))
        return found

    async def _verify(self, token: str) -> tuple[Identity, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("Invalid token.") from exc
        if self.dev_key is not None and header.get("kid") == self.dev_kid:
            key, issuer = self.dev_key, self.realm.dev_issuer
        elif str(header.get("kid", "")).startswith("lana-dev-") and self.jwks is None:
            raise Unauthenticated("Token signed by another development key: make it with `lana token` and the "
                                  "LANA_DATA_DIR of this API (printed by `lana dev` at start).")
        elif self.jwks is not None:
            kid = header.get("kid")
            jwk = (await asyncio.to_thread(self.jwks.key, kid) if self.jwks.fetch_due(kid)
                   else self.jwks.key(kid))
            if jwk is None:
                raise Unauthenticated("Invalid token.")
            key, issuer = jwk.key, self.realm.issuer
        else:
            raise Unauthenticated("Invalid token.")
        try:
            claims = jwt.decode(token, key, algorithms=["RS256"], audience=self.realm.audience,
                                issuer=issuer, options={"require": ["exp"]})
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("Expired token.") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("Invalid audience.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("Invalid token.") from exc
        if claims.get(REALM_CLAIM, self.realm.name) != self.realm.name:
            raise Unauthenticated("Token of another realm.")
        expires = float(claims["exp"])
        for claim in self.realm.subject_claims:
            if claims.get(claim):
                try:
                    return Identity(uuid.UUID(str(claims[claim])), claims.get("email")), expires
                except ValueError as exc:
                    raise Unauthenticated("Invalid token subject.") from exc
        if self.realm.name == CUSTOMER and isinstance(claims.get("email"), str) and claims["email"].strip():
            return Identity(None, claims["email"].strip().lower()), expires
        raise Unauthenticated("Invalid token subject.")
