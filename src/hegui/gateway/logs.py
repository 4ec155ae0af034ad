"""Structured JSON logs. Only whitelisted, non-personal fields are written (ids, routes, numbers)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

SAFE_FIELDS = ("request_id", "route", "status", "latency_ms", "model", "action", "risks", "user", "detail",
               "error", "upstream_status", "mode", "path")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k in SAFE_FIELDS:
            if k in record.__dict__:
                out[k] = record.__dict__[k]
        return json.dumps(out, ensure_ascii=False)


def configure(json_logs: bool = True, level: int = logging.INFO) -> None:
    """Send ``hegui.*`` logs to stderr, as JSON lines unless disabled."""
    logger = logging.getLogger("hegui")
    if any(getattr(h, "_hegui", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._hegui = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
