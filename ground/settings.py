"""Process settings (pydantic-settings, `LANA_` prefix).

Every process (`lana api`, `lana worker`, `lana migrate`, `lana dev`) reads the same settings, so
the code that runs on a laptop is the code that runs against a real PostgreSQL and Temporal
cluster; only the environment differs.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DOCUMENTS_LINK_MAX_TTL_S = 7 * 24 * 3600  # also S3's longest presigned URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LANA_", env_file=".env", extra="ignore")

    environment: str = Field("development", description="development | production")
    data_dir: Path = Path(".lana")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5433/lana"
    database_pool_size: int = 10
    database_max_overflow: int = 10

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "lana"
    temporal_tls: bool = False
    temporal_tls_client_cert: Path | None = None
    temporal_tls_client_key: Path | None = None
    temporal_tls_server_ca: Path | None = None
    temporal_api_key: str | None = None

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Request body limits (413 problem+json before the body is read): JSON and other bodies, and the
    # unauthenticated webhooks. Uploads are limited by their own settings (documents_max_bytes).
    api_max_body_bytes: int = Field(1024 * 1024, ge=1024)
    webhook_max_body_bytes: int = Field(64 * 1024, ge=1024)
    postgres_port: int = 5433
    temporal_ui_port: int = 8233

    # Authentication (governance-access-audit.md Part D). Production: RS256 tokens from an OIDC
    # provider, verified against its JWKS (keys cached, refreshed every 30 min or on an unknown kid).
    oidc_issuer: str | None = None
    oidc_audience: str = "lana-api"
    oidc_jwks_url: str | None = None
    oidc_jwks_lifespan_s: int = 1800
    # At most one JWKS request per this many seconds, whatever kids tokens name (unknown kids are
    # refused from the cache until then: random kids cannot make the API hammer the provider).
    oidc_jwks_refetch_interval_s: float = Field(30.0, gt=0)
    # The customers' realm (docs/portal.md): a separate issuer, audience and JWKS, so an operator
    # token is never accepted by the portal and a customer token never by an operator route.
    customer_oidc_issuer: str | None = None
    customer_oidc_audience: str = "lana-customer-api"
    customer_oidc_jwks_url: str | None = None
    # Development: tokens signed by a local key in data_dir (`lana token EMAIL`; `lana token
    # --customer EMAIL` signs with a second key of the customer realm). Refused unless set, and
    # always refused in production.
    auth_dev_signing: bool = False
    auth_dev_token_ttl_s: int = 900
    bootstrap_admin_email: str = "admin@lana.local"
    accounting_inception_date: dt.date | None = Field(
        None, description="First day of the bank's books: bootstrap opens the fiscal years from it through the "
                          "current one (default: 1 January of the current year)")
    # Audit: turning it off exists only for the benchmark (`lana bench audit`).
    audit_enabled: bool = True
    audit_seal_interval_s: float = 1.0
    # The chain's HMAC-SHA256 key, held outside the database (required in production; development
    # generates one into data_dir, key id "dev"). Its id is stored with every seal: to rotate, move
    # the current key into audit_hmac_retired_keys under its id and set a new key and id.
    audit_hmac_key: SecretStr | None = None
    audit_hmac_key_id: str = Field("1", min_length=1, max_length=64)
    audit_hmac_retired_keys: dict[str, SecretStr] = Field(default_factory=dict)
    # Signed chain heads ("anchors"), appended by the sealer to a log outside the database
    # (default <data_dir>/audit/anchors.jsonl); `lana audit verify` checks the chain against the latest.
    audit_anchor_path: Path | None = None
    audit_anchor_interval_s: float = Field(10.0, ge=0)
    # Customers: KYC through SumSub (customers-deposits.md §6)
    sumsub_base_url: str = "https://api.sumsub.com"
    sumsub_app_token: str = ""
    sumsub_secret_key: str = ""
    sumsub_webhook_secret: str = ""
    sumsub_kyc_level_name: str = "basic-kyc-level"
    sumsub_kyb_level_name: str = "kyb-basic"
    sumsub_link_ttl_seconds: int = 604800
    sumsub_level_map: dict[str, str] = Field(
        default_factory=lambda: {"basic-kyc-level": "Basic", "kyb-basic": "Basic",
                                 "advanced-kyc-level": "Advanced", "kyb-advanced": "Advanced"},
        description="SumSub level name -> KYC level (Basic | Advanced)",
    )
    kyc_workflow_idle_seconds: int = 60
    kyc_required: bool = Field(True, description="Verified KYC needed before deposit accounts / facilities")

    # Customer documents (custody-price-reports.md §5)
    documents_storage: str = Field("local", description="local | s3")
    documents_dir: Path | None = None  # default: <data_dir>/documents
    documents_bucket: str = ""
    documents_max_bytes: int = 10 * 1024 * 1024
    documents_allowed_types: list[str] = Field(default_factory=lambda: [
        "application/pdf", "image/png", "image/jpeg", "text/csv", "text/plain"])
    # Signs local-storage download links; required in production with local storage (no default:
    # development generates one into data_dir). Links live at most documents_link_ttl_seconds,
    # enforced by the download route as well.
    documents_link_secret: SecretStr | None = None
    documents_link_ttl_seconds: int = Field(3600, ge=1, le=DOCUMENTS_LINK_MAX_TTL_S)
    public_base_url: str = ""  # default: http://<api_host>:<api_port>

    # Customer activity classification (Active / Inactive / Suspended)
    activity_schedule_every_hours: int = 24
    activity_inactive_after_years: int = 1
    activity_suspended_after_years: int = 10
    activity_page_size: int = 1000

    # Collateral from custody (custody-price-reports.md §1.7, §2; docs/custody.md "Collateral from
    # custody"). The mock's unsigned webhooks are accepted only where ``custody_mock`` is on.
    custody_poll_seconds: int = Field(60, ge=1, description="Self-custody balance polling interval")
    custody_poll_page_size: int = Field(200, ge=1, le=5000, description="Self-custody wallets per poll page")
    custody_wallet_idle_seconds: int = Field(60, ge=0, description="A wallet workflow waits this long for "
                                             "more notices, then ends (the next notice starts a new run)")
    custody_unknown_wallet_attempts: int = Field(8, ge=1, le=30, description="Attempts to find the wallet of "
                                                 "a notice (backoff 1 s doubling, at most 60 s) before it fails")

    # BTC price feed (custody-price-reports.md §3; credit.md docs)
    price_source: Literal["bitfinex", "fixed", "manual"] = Field("bitfinex", description="bitfinex | fixed | manual (operator PUT /price)")
    price_poll_seconds: int = Field(60, ge=1, description="Feed schedule interval")
    price_max_age_seconds: int = Field(300, ge=1, description="Older prices are stale (not used)")
    credit_price_pass_concurrency: int = Field(2, ge=1, le=16, description="Pages of a price event's pass in "
                                               "flight at once (a database connection each)")
    price_fixed_usd_cents_per_btc: int = Field(0, ge=0, description="The price for price_source=fixed")
    price_bitfinex_url: str = "https://api-pub.bitfinex.com"

    # Custody (custody-price-reports.md §1, docs/custody.md). Provider endpoints are settings, never
    # stored: empty = the provider's production or testing URL by the config's testing_instance.
    custody_bitgo_url: str = ""
    custody_komainu_url: str = ""
    custody_esplora_urls: dict[str, str] = Field(
        default_factory=lambda: {"mainnet": "https://blockstream.info/api/",
                                 "testnet3": "https://blockstream.info/testnet/api/",
                                 "testnet4": "https://mempool.space/testnet4/api/",
                                 "signet": "https://blockstream.info/signet/api/"},
        description="Esplora-compatible API per network (self-custody balances)")
    custody_komainu_webhook_tolerance_s: float = Field(
        300.0, gt=0, description="A Komainu webhook whose x-komainu-timestamp is further from now is refused")
    # Custodian configs are encrypted at rest (ChaCha20-Poly1305): 64 hex chars (32 bytes), required in
    # production (development generates one into data_dir). To rotate: move the current key to
    # custody_deprecated_encryption_key, set a new one; start-up re-encrypts every custodian.
    custody_encryption_key: SecretStr | None = None
    custody_deprecated_encryption_key: SecretStr | None = None
    # verify_client() before a custodian is stored (default: on in production only)
    custody_verify_clients: bool | None = None
    # The mock custodian (nil id): default on in development, refused in production
    custody_mock_enabled: bool | None = None

    # Business time (credit.md §12.1, docs/operations.md "End of day"): the business date closes at
    # business_closing_time (wall clock in business_timezone); real = it follows the wall clock,
    # simulated = an instant kept in PostgreSQL that POST /time/advance-to-next-end-of-day moves
    # (meant for development and demos: `lana dev --simulated-time`).
    business_timezone: str = Field("UTC", description="IANA time zone of the business day")
    business_closing_time: dt.time = Field(dt.time(0), description="Wall-clock time a business day closes at")
    clock_mode: Literal["real", "simulated"] = Field("real", description="real | simulated")
    simulated_clock_start: dt.datetime | None = Field(
        None, description="Where a new simulated clock starts (an instant with its offset, e.g. "
                          "2025-01-15T10:00:00Z; default: the wall clock). Read only when the simulated clock "
                          "is first created; ignored on a real clock.")
    end_of_day_poll_seconds: int = Field(300, ge=10, description="How often the schedule looks for closed dates")
    reports_delay_minutes: int = Field(60, ge=0, le=23 * 60,
                                       description="Minutes after the business closing time the daily report run starts")
    end_of_day_page_size: int = Field(500, ge=1, le=10_000, description="Entities per batch page")
    end_of_day_pages_in_flight: int = Field(2, ge=1, le=8, description="Pages of one step run concurrently")
    time_advance_wait_seconds: float = Field(300.0, gt=0, description="How long an advance waits for one date's run")
    # Completion (credit.md §10): an operator command; with this on, the payment that leaves nothing
    # outstanding also completes (closes) the facility.
    credit_close_when_paid: bool = Field(False, description="Close a facility automatically when it is fully paid")

    # Live updates (docs/streams.md): SSE streams fed by one LISTEN connection per API process.
    stream_heartbeat_s: float = Field(15.0, gt=0, description="Seconds between SSE heartbeat comments")
    stream_queue_size: int = Field(256, ge=1, le=100_000, description="Events buffered per SSE client; a client "
                                   "that falls this far behind is dropped (it resumes with Last-Event-ID)")
    stream_send_timeout_s: float = Field(10.0, gt=0, description="A client whose socket accepts nothing for "
                                         "this long is dropped")

    # Worker sweep that restarts workflows whose start was lost after their entity was written
    # (workers/reconcile.py): how often, and how old an entity must be before it is considered lost.
    reconcile_every_s: float = 60.0
    reconcile_grace_s: float = 60.0

    log_level: str = "INFO"
    log_json: bool | None = None  # default: JSON in production, console in development

    @field_validator("simulated_clock_start")
    @classmethod
    def _aware_start(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("simulated_clock_start needs a UTC offset (e.g. 2025-01-15T10:00:00Z)")
        return value

    @field_validator("business_timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def custody_verifies_clients(self) -> bool:
        return self.is_production if self.custody_verify_clients is None else self.custody_verify_clients

    @property
    def custody_mock(self) -> bool:
        if self.custody_mock_enabled and self.is_production:
            raise ValueError("LANA_CUSTODY_MOCK_ENABLED is refused in production")
        return not self.is_production if self.custody_mock_enabled is None else self.custody_mock_enabled

    @property
    def json_logs(self) -> bool:
        return self.is_production if self.log_json is None else self.log_json

    @property
    def documents_root(self) -> Path:
        return self.documents_dir or self.data_dir / "documents"

    @property
    def audit_anchor_file(self) -> Path:
        return self.audit_anchor_path or self.data_dir / "audit" / "anchors.jsonl"

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def temporal_port(self) -> int:
        return int(self.temporal_address.rsplit(":", 1)[1])


@lru_cache
def get_settings() -> Settings:
    return Settings()
