"""Logging for every entry point: text for humans (default) or JSON, one object per line
(``CONTROLPLANE_LOG_FORMAT=json``), for a log collector.

A JSON line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, plus whatever the code
running bound with :func:`bind` and that is set: ``request_id`` (the HTTP request, as echoed in
``X-Request-ID``), ``object_kind``, ``object_name`` and ``run_id`` (the reconcile in progress), and
``exception`` with the traceback. Bound values live in context variables: they follow a request into its
threads and end with it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from rich.console import Console
from rich.logging import RichHandler

FIELDS = ("request_id", "object_kind", "object_name", "run_id")
"""The context fields a JSON line may carry."""
_CONTEXT: dict[str, ContextVar[str | None]] = {name: ContextVar(f"log_{name}", default=None) for name in FIELDS}
_JSON: list[bool] = [False]
NOISY = ("pgserver", "alembic", "httpx", "urllib3")
"""Libraries that say too much at info level: they log warnings and worse only."""


def bind(**values: object) -> None:
    """Attach ``values`` (keys from :data:`FIELDS`) to every log line of the current context from now on."""
    for name, value in values.items():
        _CONTEXT[name].set(None if value is None else str(value))


@contextmanager
def bound(**values: object) -> Iterator[None]:
    """Attach ``values`` to the log lines written inside the ``with`` block only."""
    tokens = {name: _CONTEXT[name].set(None if value is None else str(value)) for name, value in values.items()}
    try:
        yield
    finally:
        for name, token in tokens.items():
            _CONTEXT[name].reset(token)


def current(name: str) -> str | None:
    """The value bound to ``name`` in the current context."""
    return _CONTEXT[name].get()


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the bound context fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = _CONTEXT[name].get()
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def is_json() -> bool:
    """Whether this process logs JSON lines (then messages for the operator go through logging too)."""
    return _JSON[0]


def configure_logging(level: str, log_format: str, console: Console) -> None:
    """Set up the root logger once for a process: Rich text on ``console``, or JSON lines on its stream."""
    _JSON[0] = log_format == "json"
    if log_format == "json":
        handler: logging.Handler = logging.StreamHandler(console.file)
        handler.setFormatter(JsonFormatter())
    else:
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
