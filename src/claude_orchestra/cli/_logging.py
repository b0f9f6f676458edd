"""Console and JSON-lines logging for the CLI, behind a filter that redacts secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from claude_orchestra import Secret, redact

_FIELDS = ("instance", "state", "event", "run")


Secrets = Callable[[], Iterable[Secret]]
"""What the run holds now: asked again for every record (hook tokens are issued as
instances launch)."""


class RedactingFilter(logging.Filter):
    """Replaces every known secret in a record's final message with ``***``."""

    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = tuple(self._secrets())
        record.msg, record.args = redact(record.getMessage(), secrets), None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text, secrets), None
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record, with our ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "at": record.created,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _FIELDS:
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str)


def configure(verbosity: int, quiet: bool) -> logging.Handler:
    """A console handler on the package logger; returns it so filters can be added."""
    level = logging.WARNING if quiet else logging.INFO if verbosity == 0 else logging.DEBUG
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    handler.setLevel(level)
    root = logging.getLogger("claude_orchestra")
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    return handler


def add_file_log(folder: Path, secrets: Secrets) -> list[logging.Handler]:
    """A JSON-lines log under ``folder``; every handler gets the redacting filter."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "orchestra.jsonl", encoding="utf-8")
    handler.setFormatter(JsonLinesFormatter())
    root = logging.getLogger("claude_orchestra")
    root.addHandler(handler)
    redact = RedactingFilter(secrets)
    for each in root.handlers:
        each.addFilter(redact)
    return [handler]


def remove_handlers() -> None:
    """Detach and close the CLI's handlers (tests call main() more than once)."""
    root = logging.getLogger("claude_orchestra")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
