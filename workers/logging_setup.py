"""Structured logging: JSON in production, readable console output in development.

Every line carries the request id (API, bound by middleware through contextvars) or the workflow
id and activity type (inside a Temporal activity).
"""

from __future__ import annotations

import logging
import sys

import structlog


def _temporal_context(_logger, _name, event_dict):
    try:
        from temporalio import activity

        if activity.in_activity():
            info = activity.info()
            event_dict.setdefault("workflow_id", info.workflow_id)
            event_dict.setdefault("activity", info.activity_type)
    except Exception:  # noqa: BLE001 - logging must never fail
        pass
    return event_dict


# Field names whose values never reach a log line, at any depth of the event (custodian credentials,
# custody-price-reports.md §1.3: "Secrets are redacted in logs"); the config models' SecretStr fields
# already print as '**********', this catches a raw dict logged by mistake.
REDACTED_KEYS = frozenset({"long_lived_token", "passphrase", "api_key", "api_secret", "secret_key", "webhook_secret",
                           "account_xpriv", "custodian_config", "encrypted_custodian_config", "encrypted_config"})
REDACTED = "**redacted**"


def _redact(value, depth: int = 0):
    if depth > 6:
        return value
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and k.lower() in REDACTED_KEYS else _redact(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, depth + 1) for v in value)
    return value


def redact_secrets(_logger, _name, event_dict):
    try:
        return _redact(event_dict)
    except Exception:  # noqa: BLE001 - logging must never fail
        return event_dict


def configure(level: str = "INFO", json: bool = False) -> None:
    shared = [
        structlog.contextvars.merge_contextvars,
        redact_secrets,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _temporal_context,
    ]
    # JSON: the traceback becomes an "exception" string field; the console renderer prints it itself.
    renderers = ([structlog.processors.format_exc_info, structlog.processors.JSONRenderer()] if json
                 else [structlog.dev.ConsoleRenderer(colors=False)])
    structlog.configure(
        # a disabled level is dropped first, before the processors format anything
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
