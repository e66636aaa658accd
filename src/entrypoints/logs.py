"""Log records as JSON lines (or text), each stamped with the id of the request it belongs to."""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from revocation.adapters.log_context import request_id_var

# Attributes every LogRecord has; anything else on a record came from `extra=` (event fields).
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (a handler filter: sees all loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, request_id, event fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        entry.update(_event_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """For a terminal: `-` where a record has no request (start-up, background tasks)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_id = request_id or "-"
        try:
            line = super().format(record)
        finally:
            record.request_id = request_id  # other handlers see the record unchanged
        fields = _event_fields(record)
        fields.pop("event", None)  # the message already names it
        return " ".join([line, *(f"{key}={value}" for key, value in fields.items())])


def _event_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed in `extra=`: every attribute a plain LogRecord lacks."""
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD}


def logging_config(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for the root logger; uvicorn's loggers propagate to it (`log_config=`)."""
    formatter = "JsonFormatter" if log_format == "json" else "TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"default": {"()": f"{__name__}.{formatter}"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(log_format: str, level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(log_format, level))
