"""The run's append-only journal: one JSON line per fact, flushed as it happens.

Each line is ``{"type": <class name>, "recorded": <wall time>, ...fields}`` for an attrs value
(an event, a state change, an assignment, a merge, an incident). Secrets never reach it:
values carry credential names, never credential values, and every string is redacted of the
run's secrets besides (a prompt or a test's output may quote one). The report is built from the
same values; a crashed orchestrator's successor reads the journal back.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, final

import attrs

from claude_orchestra._clock import Clock
from claude_orchestra.auth.credentials import Secret, redact_tree


def to_json(value: Any) -> Any:
    """A JSON-ready copy of an attrs value (enums by value, paths as strings)."""
    if attrs.has(type(value)):
        return {
            f.name.lstrip("_"): to_json(getattr(value, f.name))
            for f in attrs.fields(type(value))
            if f.repr is not False
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    return value


@final
class Journal:
    """Appends facts to ``journal.jsonl``."""

    def __init__(
        self, path: Path, clock: Clock, secrets: Callable[[], Iterable[Secret]] = tuple
    ) -> None:
        """Open ``path`` for appending; every line is redacted of ``secrets()``."""
        self._path = path
        self._clock = clock
        self._secrets = secrets
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    def record(self, value: Any) -> None:
        """Append one attrs value."""
        if self._file is None:
            raise ValueError("the journal is closed")
        line = {"type": type(value).__name__, "recorded": self._clock.wall(), **to_json(value)}
        line = redact_tree(json.loads(json.dumps(line, default=str)), self._secrets())
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_journal(path: Path) -> Iterator[dict[str, Any]]:
    """The journal's entries, skipping a torn last line."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry
