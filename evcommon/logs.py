"""structlog set-up shared by the daemons: JSON in production, console for humans."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

LogFormat = Literal["json", "console", "auto"]


def configure_logging(level: str = "info", fmt: LogFormat = "auto") -> None:
    """Configure structlog and the stdlib root logger once per process."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # resolve sys.stderr per logger, not once: tests and daemons may swap it
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    # stdlib loggers (aiomqtt/paho, websockets, sqlalchemy) go through the same
    # processors, so a JSON log stays JSON on every line
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), handlers=[handler], force=True)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current sys.stderr, like the structlog loggers (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stderr)


def get_logger(name: str, **bound: object) -> structlog.stdlib.BoundLogger:
    """A lazy logger: safe at import time, it picks up configure_logging() when first used."""
    return structlog.get_logger(name, **bound)  # type: ignore[no-any-return]
