"""Secrets from settings: required (and long enough) in production, generated locally in development.

A development secret is generated once into the data directory (mode 0600, like the development
signing key), so a laptop needs no configuration while production never runs on a value that is
written in the source or shared between installations.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from ground.settings import Settings

MIN_PRODUCTION_CHARS = 32
# Values once written in the source: public, so never accepted in production.
PUBLIC_VALUES = frozenset({"dev-local-storage-signing-secret"})


def dev_secret(settings: Settings, file_name: str) -> str:
    path = Path(settings.data_dir) / file_name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # never replaces: processes starting together agree on the first one
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def required_secret(settings: Settings, value: SecretStr | None, env_name: str, dev_file: str) -> str:
    """The configured secret; in production refuse a missing or short one (``ValueError`` at start-up);
    in development fall back to one generated into the data directory."""
    if value is not None and value.get_secret_value():
        secret = value.get_secret_value()
        if settings.is_production and (len(secret) < MIN_PRODUCTION_CHARS or secret in PUBLIC_VALUES):
            raise ValueError(f"{env_name} must be a private secret of at least {MIN_PRODUCTION_CHARS} "
                             "characters in production")
        return secret
    if settings.is_production:
        raise ValueError(f"production needs {env_name}: set it to a random secret of at least "
                         f"{MIN_PRODUCTION_CHARS} characters (e.g. `openssl rand -base64 48`)")
    return dev_secret(settings, dev_file)
