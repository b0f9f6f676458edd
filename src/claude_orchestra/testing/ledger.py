"""The fake Messages API's memory: who is calling, and every request with what was served.

Callers are named: tests :meth:`RequestLedger.register` each secret under a name, and the
log shows names only; an unknown secret shows as its last four characters (and is refused
with a 401, as the real API refuses a key it never issued, unless the fake was told to
accept any key). Every request
is logged when it arrives (``status`` ``None``: still being answered, as a hung one is) and
updated when it is answered. The ledger is thread-safe and lets a test wait for a request
without polling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, final

import attrs

from claude_orchestra.auth.credentials import Secret
from claude_orchestra.costs.transcripts import Usage
from claude_orchestra.testing.faults import FaultKind

NO_CREDENTIAL = "<none>"
"""The caller name of a request that sent neither ``x-api-key`` nor a Bearer token."""


@final
@attrs.frozen(kw_only=True)
class ApiRequest:
    """One request the fake received and, once answered, what it served."""

    number: int
    """1-based arrival order."""
    at: float
    """Epoch seconds of arrival."""
    credential: str
    """The caller's registered name, ``...<last 4 chars>``, or :data:`NO_CREDENTIAL`."""
    path: str
    model: str | None = None
    last_user_text: str | None = None
    cwd: str | None = None
    """``Primary working directory`` of the Claude Code instance that sent it."""
    stream: bool = False
    status: int | None = None
    """The HTTP status served; ``None`` while the request is still being answered."""
    fault: FaultKind | None = None
    usage: Usage | None = None
    """Set once a successful reply has been sent in full."""
    message_id: str | None = None
    session_id: str | None = None
    """Claude Code's ``X-Claude-Code-Session-Id`` header."""
    typed_prompts: tuple[str, ...] = ()
    """Every typed user text in the conversation sent, oldest first."""


def request_to_json(record: ApiRequest) -> dict[str, Any]:
    """A record as the control API serves it."""

    def value(_: object, __: object, v: object) -> object:
        return v.value if isinstance(v, FaultKind) else v

    return attrs.asdict(record, value_serializer=value)


def _secret_text(secret: Secret | str) -> str:
    return secret.reveal() if isinstance(secret, Secret) else secret


@final
@attrs.define(eq=False)
class RequestLedger:
    """Credential names and the request log, shared by the server and the test thread."""

    _names: dict[str, str] = attrs.field(init=False, factory=dict, repr=False)
    _log: list[ApiRequest] = attrs.field(init=False, factory=list)
    _changed: threading.Condition = attrs.field(init=False, factory=threading.Condition)

    def register(self, name: str, secret: Secret | str) -> None:
        """Log requests carrying ``secret`` (key or Bearer token) under ``name``."""
        if not name or name == NO_CREDENTIAL:
            raise ValueError(f"invalid credential name {name!r}")
        with self._changed:
            self._names[_secret_text(secret)] = name

    def name_for(self, secret: Secret | str) -> str:
        """The name the log shows for ``secret``."""
        text = _secret_text(secret)
        with self._changed:
            return self._names.get(text) or f"...{text[-4:]}"

    def is_registered(self, caller: str) -> bool:
        """Whether ``caller`` (from :meth:`caller`) is a name a test registered."""
        with self._changed:
            return caller in self._names.values()

    def caller(self, headers: Mapping[str, str]) -> str:
        """The caller of a request with ``headers``: a registered secret first, key first."""
        secrets = [headers.get("x-api-key", "")]
        scheme, _, token = headers.get("authorization", "").partition(" ")
        secrets.append(token.strip() if scheme.lower() == "bearer" else "")
        present = [s for s in secrets if s]
        with self._changed:
            known = [self._names[s] for s in present if s in self._names]
        if known:
            return known[0]
        return f"...{present[0][-4:]}" if present else NO_CREDENTIAL

    def arrive(self, *, credential: str, path: str) -> ApiRequest:
        """Log a new request; the returned record has its number."""
        with self._changed:
            record = ApiRequest(
                number=len(self._log) + 1, at=time.time(), credential=credential, path=path
            )
            self._log.append(record)
            self._changed.notify_all()
            return record

    def update(self, record: ApiRequest, **changes: Any) -> ApiRequest:
        """Replace ``record``'s fields with ``changes``; returns the new record."""
        with self._changed:
            new = attrs.evolve(self._log[record.number - 1], **changes)
            self._log[record.number - 1] = new
            self._changed.notify_all()
            return new

    @property
    def requests(self) -> tuple[ApiRequest, ...]:
        """Every request so far, in arrival order."""
        with self._changed:
            return tuple(self._log)

    def served_usage(self) -> Usage:
        """Usage over every reply served in full (each response counted once)."""
        return sum((r.usage for r in self.requests if r.usage is not None), Usage())

    def wait_for(
        self, predicate: Callable[[ApiRequest], bool], *, timeout: float, start: int = 0
    ) -> ApiRequest:
        """The first record from index ``start`` on that satisfies ``predicate``.

        Raises:
            TimeoutError: none did within ``timeout`` seconds.
        """
        found: list[ApiRequest] = []

        def ready() -> bool:
            found[:] = [r for r in self._log[start:] if predicate(r)][:1]
            return bool(found)

        with self._changed:
            if not self._changed.wait_for(ready, timeout=timeout):
                raise TimeoutError(f"no matching API request within {timeout} s")
        return found[0]
