"""Log lines as JSON (LOG_FORMAT=json) carrying the request id and the client address, plus one access line."""
from __future__ import annotations

import datetime as dt
import json
import logging
import time

from flask import Flask, g, has_request_context, request

access_log = logging.getLogger("asset_tracker.access")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class RequestContextFilter(logging.Filter):
    """Adds request_id and remote_addr (the real client once ProxyFix applies) to every record of a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = getattr(record, "request_id", None) or g.get("request_id")
            record.remote_addr = getattr(record, "remote_addr", None) or request.remote_addr
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request fields, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                out[key] = value if isinstance(value, (str, int, float, bool, list, dict)) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(app: Flask) -> None:
    """LOG_FORMAT "json": the root logger writes JSON lines to stderr; "text" leaves the server's set-up alone."""
    fmt = str(app.config.get("LOG_FORMAT", "text")).lower()
    if fmt not in ("text", "json"):
        raise RuntimeError(f"LOG_FORMAT must be 'text' or 'json', not {fmt!r}")
    root = logging.getLogger()
    if fmt == "json":
        if not any(getattr(h, "_reboot_json", False) for h in root.handlers):
            for handler in list(root.handlers):
                root.removeHandler(handler)
            handler = logging.StreamHandler()
            handler._reboot_json = True
            handler.setFormatter(JsonFormatter())
            handler.addFilter(RequestContextFilter())
            root.addHandler(handler)
        root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    else:
        for handler in root.handlers:
            if not any(isinstance(f, RequestContextFilter) for f in handler.filters):
                handler.addFilter(RequestContextFilter())

    @app.before_request
    def _start_clock():
        g._started = time.perf_counter()

    @app.after_request
    def _access_line(response):
        if app.config.get("ACCESS_LOG", True):
            started = g.get("_started")
            access_log.info("%s %s %s", request.method, request.path, response.status_code, extra={
                "method": request.method, "path": request.path, "status": response.status_code,
                "endpoint": request.endpoint,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
                "remote_addr": request.remote_addr, "request_id": g.get("request_id")})
        return response
