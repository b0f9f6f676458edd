"""Token usage and cost from Claude Code's transcripts.

Claude Code writes every API response into ``<config dir>/projects/<cwd>/<session>.jsonl``
(sub-agents under ``<session>/subagents/``), one line per content block, each repeating the
response's ``message.id`` and full usage. A :class:`UsageLedger` reads those files
incrementally as they grow, counts each message id once, skips Claude Code's synthetic
error lines, and keeps a partial last line until it is complete.

The transcripts are the instance's to write: they are opened without following symlinks,
without blocking (a FIFO), only when they are regular files, and read at most
:data:`MAX_READ` bytes at a time; any other file is skipped with a warning.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, final

import attrs

from claude_orchestra._safe_files import UnsafeFileError

logger = logging.getLogger(__name__)

MAX_READ = 16 * 1024 * 1024
"""The most bytes read from one transcript at a time (the rest is read next time)."""


def _open_transcript(path: Path) -> int:
    """A file descriptor of the regular file ``path``: no symlink followed, no blocking.

    Raises:
        UnsafeFileError: it is a symlink or not a regular file.
        OSError: it cannot be opened.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFileError(path, "is a symlink") from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeFileError(path, "is not a regular file")
    return fd


def transcript_files(root: Path) -> list[Path]:
    """The ``*.jsonl`` regular files below ``root`` (no symlink followed), sorted."""
    if root.is_symlink() or not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.jsonl") if _is_regular(p))


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def transcript_size(root: Path) -> int:
    """The bytes of every transcript below ``root`` (grows with each response)."""
    total = 0
    for path in transcript_files(root):
        try:
            total += path.lstat().st_size
        except OSError:
            continue
    return total


def has_conversation(session_id: str, transcripts: Iterable[str], projects_dir: Path) -> bool:
    """Whether ``session_id``'s transcript (a path its hooks named, inside
    ``projects_dir``) holds a user turn: what ``--resume`` needs, else it exits with "No
    conversation found"."""
    name = f"{session_id}.jsonl"
    root = projects_dir.resolve()
    for path in map(Path, transcripts):
        if path.name != name or not path.resolve().is_relative_to(root):
            continue
        try:
            fd = _open_transcript(path)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as f:
            while chunk := f.read(MAX_READ):
                if b'"type":"user"' in chunk:
                    return True
    return False


@final
@attrs.frozen(kw_only=True)
class Usage:
    """Token counts of one or more responses."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    @property
    def total(self) -> int:
        """All tokens, every kind."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )

    @classmethod
    def from_api(cls, usage: Mapping[str, Any]) -> Usage:
        """From an API ``usage`` object (missing counts are 0)."""

        def count(key: str) -> int:
            value = usage.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        return cls(
            input_tokens=count("input_tokens"),
            output_tokens=count("output_tokens"),
            cache_creation_input_tokens=count("cache_creation_input_tokens"),
            cache_read_input_tokens=count("cache_read_input_tokens"),
        )


def _price(value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"must be a finite number, 0 or more, got {value:g}")


@final
@attrs.frozen(kw_only=True)
class Price:
    """USD per million tokens (each a finite number, 0 or more)."""

    input: float = attrs.field(validator=lambda _, __, v: _price(v))
    output: float = attrs.field(validator=lambda _, __, v: _price(v))
    cache_write: float = attrs.field(validator=lambda _, __, v: _price(v))
    cache_read: float = attrs.field(validator=lambda _, __, v: _price(v))

    def cost(self, usage: Usage) -> float:
        """The USD cost of ``usage`` at this price."""
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_input_tokens * self.cache_write
            + usage.cache_read_input_tokens * self.cache_read
        ) / 1_000_000


#: Prices of the models Claude Code 2.1.328 uses by default. The opus figures match the
#: CLI's own ``total_cost_usd`` (claude-code-facts §6); the others follow the published
#: ratios. Unknown models are counted in tokens and reported as unpriced.
DEFAULT_PRICES: Mapping[str, Price] = {
    "claude-opus-5-5": Price(input=4.0, output=20.0, cache_write=5.0, cache_read=0.2),
    "claude-sonnet-5-5": Price(input=2.0, output=10.0, cache_write=2.5, cache_read=0.2),
    "claude-sonnet-5": Price(input=2.0, output=10.0, cache_write=2.5, cache_read=0.2),
    "claude-haiku-4-5": Price(input=1.0, output=5.0, cache_write=1.25, cache_read=0.1),
}


@final
@attrs.define(eq=False)
class UsageLedger:
    """Usage per model from a set of transcript files, read as they grow."""

    counted: set[str] | None = None
    """Response keys counted elsewhere in the run (the broker's meter, another ledger),
    shared: a response found here that is in it is counted as seen, its usage not again;
    one counted here is added to it. ``None``: this ledger counts on its own."""
    _offsets: dict[Path, int] = attrs.field(init=False, factory=dict)
    _seen: set[str] = attrs.field(init=False, factory=set)
    _by_model: dict[str, Usage] = attrs.field(init=False, factory=dict)

    def read(self, paths: Iterable[Path]) -> dict[str, Usage]:
        """Read what was appended to each file since the last call.

        Returns the usage newly counted by this call, per model (empty when nothing new).
        """
        new: dict[str, Usage] = {}
        for path in paths:
            self._read_one(path, new)
        for model, usage in new.items():
            self._by_model[model] = self._by_model.get(model, Usage()) + usage
        return new

    def read_tree(self, root: Path) -> dict[str, Usage]:
        """Read every ``*.jsonl`` below ``root`` (sessions and sub-agents); see :meth:`read`."""
        return self.read(transcript_files(root))

    def _read_one(self, path: Path, new: dict[str, Usage]) -> None:
        start = self._offsets.get(path, 0)
        try:
            fd = _open_transcript(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            logger.warning("transcript skipped: %s", exc)
            return
        with os.fdopen(fd, "rb") as f:
            f.seek(start)
            data = f.read(MAX_READ)
        end = data.rfind(b"\n") + 1  # keep a partial last line for the next read
        for line in data[:end].splitlines():
            self._ingest(line, new)
        self._offsets[path] = start + end

    def _ingest(self, line: bytes, new: dict[str, Usage]) -> None:
        try:
            entry = json.loads(line)
        except ValueError:
            return
        if not isinstance(entry, dict) or entry.get("type") != "assistant":
            return
        message = entry.get("message")
        if not isinstance(message, dict):
            return
        key = message.get("id") or entry.get("requestId")
        model = message.get("model")
        usage = message.get("usage")
        if not isinstance(key, str) or not isinstance(model, str) or not isinstance(usage, dict):
            return
        if model == "<synthetic>" or key in self._seen:
            return
        self._seen.add(key)
        if self.counted is not None:
            if key in self.counted:
                return  # its usage was counted when the broker served it
            self.counted.add(key)
        new[model] = new.get(model, Usage()) + Usage.from_api(usage)

    @property
    def by_model(self) -> Mapping[str, Usage]:
        """Usage per model so far."""
        return dict(self._by_model)

    @property
    def total(self) -> Usage:
        """Usage over every model."""
        return sum(self._by_model.values(), Usage())

    @property
    def responses(self) -> int:
        """Distinct responses counted."""
        return len(self._seen)

    def cost(self, prices: Mapping[str, Price] = DEFAULT_PRICES) -> float | None:
        """USD over every model, or ``None`` when some model has no price."""
        total = 0.0
        for model, usage in self._by_model.items():
            price = prices.get(model)
            if price is None:
                return None
            total += price.cost(usage)
        return total
