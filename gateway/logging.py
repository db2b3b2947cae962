"""Log lines for journald: one event per line on stderr, `key=value` (or JSON with a flag).

journald adds its own timestamp, host and unit, so a line carries only what it is about:
`level=info logger=gateway.worker event=sent modem=modem0 message=msg_... mr=17`. Call
`log_event(logger, "sent", modem=..., to=...)` for structured events; ordinary `logger.info`
calls from libraries and the driver come out as `event=<their message>`.

Redaction is on by default and applies to every record, whoever logged it: fields named like a
phone number (`to`, `sender`, `number`...) keep their last two digits, fields named like message
text (`text`, `body`...) become their length, and digit runs / PDU hex in free text are masked
by the driver's `redact_line`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from drivers.redact import mask_number, redact_line

NUMBER_FIELDS: Final = frozenset(
    {"to", "sender", "recipient", "number", "from", "msisdn", "phone", "destination"}
)
TEXT_FIELDS: Final = frozenset({"text", "body", "message_text", "reply"})
_FIELDS_ATTR: Final = "smsgw_fields"
_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
                  "error": logging.ERROR}
# Attributes every LogRecord has; anything else passed through `extra=` is a field.
_RECORD_ATTRS: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName", _FIELDS_ATTR}


def log_event(logger: logging.Logger, event: str, /, *, level: int = logging.INFO,
              **fields: Any) -> None:
    """One structured event; `fields` become `key=value` pairs (redacted when configured)."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={_FIELDS_ATTR: fields})


def redact_value(key: str, value: Any) -> Any:
    """What a field may show in a log when redaction is on."""
    if value is None:
        return None
    if key in NUMBER_FIELDS:
        return mask_number(str(value))
    if key in TEXT_FIELDS:
        return f"<{len(str(value))} chars>"
    if isinstance(value, str):
        return redact_line(value)
    return value


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = dict(getattr(record, _FIELDS_ATTR, None) or {})
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRS and not key.startswith("_"):
            fields.setdefault(key, value)
    return fields


def _quote(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if text and all(c.isprintable() and c not in ' "=\\' for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)


class _Formatter(logging.Formatter):
    def __init__(self, *, redact: bool, timestamps: bool) -> None:
        super().__init__()
        self.redact = redact
        self.timestamps = timestamps

    def _parts(self, record: logging.LogRecord) -> dict[str, Any]:
        message = record.getMessage()
        fields = _fields(record)
        if self.redact:
            message = redact_line(message)
            fields = {k: redact_value(k, v) for k, v in fields.items()}
        parts: dict[str, Any] = {}
        if self.timestamps:
            parts["ts"] = datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            )
        parts["level"] = record.levelname.lower()
        parts["logger"] = record.name
        parts["event"] = message
        for key, value in fields.items():
            if value is not None:
                parts[key if key not in parts else f"field_{key}"] = value
        if record.exc_info:
            error = self.formatException(record.exc_info)
            parts["error"] = redact_line(error) if self.redact else error
        return parts


class KeyValueFormatter(_Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = self._parts(record)
        line = " ".join(f"{k}={_quote(v)}" for k, v in parts.items())
        return line.replace("\n", "\\n")


class JsonFormatter(_Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self._parts(record), ensure_ascii=False, default=str)


def configure_logging(
    level: str = "info",
    *,
    fmt: str = "text",
    redact: bool = True,
    stream: TextIO | None = None,
    timestamps: bool | None = None,
) -> logging.Handler:
    """Install the one handler on the root logger (replacing earlier ones of ours).

    Timestamps are left to journald unless stderr is a terminal (or `timestamps` says so).
    """
    out = stream or sys.stderr
    if timestamps is None:
        timestamps = out.isatty()
    formatter: logging.Formatter = (
        JsonFormatter(redact=redact, timestamps=timestamps)
        if fmt == "json"
        else KeyValueFormatter(redact=redact, timestamps=timestamps)
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.set_name("smsgw")
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "smsgw":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(level.lower(), logging.INFO))
    # aiohttp's access log repeats what the API logs itself; keep it at warning.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler


__all__ = [
    "JsonFormatter",
    "KeyValueFormatter",
    "configure_logging",
    "log_event",
    "redact_value",
]
