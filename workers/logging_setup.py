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


def configure(level: str = "INFO", json: bool = False) -> None:
    shared = [
        structlog.contextvars.merge_contextvars,
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
