"""Process settings (pydantic-settings, `LANA_` prefix).

Every process (`lana api`, `lana worker`, `lana migrate`, `lana dev`) reads the same settings, so
the code that runs on a laptop is the code that runs against a real PostgreSQL and Temporal
cluster; only the environment differs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    postgres_port: int = 5433
    temporal_ui_port: int = 8233

    # Authentication (governance-access-audit.md Part D). Production: RS256 tokens from an OIDC
    # provider, verified against its JWKS (keys cached, refreshed every 30 min or on an unknown kid).
    oidc_issuer: str | None = None
    oidc_audience: str = "lana-api"
    oidc_jwks_url: str | None = None
    oidc_jwks_lifespan_s: int = 1800
    # Development: tokens signed by a local key in data_dir (`lana token EMAIL`). Refused unless set,
    # and always refused in production.
    auth_dev_signing: bool = False
    auth_dev_token_ttl_s: int = 900
    bootstrap_admin_email: str = "admin@lana.local"
    # Audit: turning it off exists only for the benchmark (`lana bench audit`).
    audit_enabled: bool = True
    audit_seal_interval_s: float = 1.0

    log_level: str = "INFO"
    log_json: bool | None = None  # default: JSON in production, console in development

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def json_logs(self) -> bool:
        return self.is_production if self.log_json is None else self.log_json

    @property
    def temporal_port(self) -> int:
        return int(self.temporal_address.rsplit(":", 1)[1])


@lru_cache
def get_settings() -> Settings:
    return Settings()
