"""Faults the fake Messages API can inject, per credential, and the error replies they make.

A :class:`Fault` says what goes wrong; :class:`FaultBook` holds the injected rules (whom,
how many times, until when) and hands out the fault for each request. Error replies copy
the real API: the status, ``{"type": "error", "error": {...}}`` and the headers Claude Code
reads (``retry-after``, ``x-should-retry``, ``anthropic-ratelimit-unified-*``).
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Mapping
from typing import Any, final

import attrs
import cattrs

from claude_orchestra.testing.sse import error_json

ANY = "*"
"""The target that matches every caller."""


class FaultKind(enum.Enum):
    """What goes wrong."""

    RATE_LIMIT = "rate_limit"
    """429 ``rate_limit_error`` (optional ``retry-after``, ``x-should-retry``)."""
    OVERLOADED = "overloaded"
    """529 ``overloaded_error``."""
    AUTH = "auth"
    """401 ``authentication_error``."""
    USAGE_LIMIT = "usage_limit"
    """429 with ``anthropic-ratelimit-unified-status: rejected`` and its reset time."""
    HANG = "hang"
    """No answer until :meth:`FakeAnthropicAPI.release_hangs` or the rule expires."""
    SLOW = "slow"
    """The normal reply, with :attr:`Fault.delay` seconds between SSE frames."""
    NEAR_LIMIT = "near_limit"
    """The normal reply, with rate-limit headers saying :attr:`Fault.used` of a limit is
    spent (``anthropic-ratelimit-unified-5h-*`` for a login, ``-tokens-*`` for a key)."""


@final
@attrs.frozen(kw_only=True)
class ErrorReply:
    """An error response: status, JSON body and headers."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str]


@final
@attrs.frozen(kw_only=True)
class Fault:
    """One kind of failure and its parameters; build it with the class methods."""

    kind: FaultKind
    retry_after: int | None = None
    """Seconds for ``retry-after`` (rate limits). Claude Code does not retry at >= ~60."""
    should_retry: bool | None = None
    """``x-should-retry`` (rate limits, overload), omitted when ``None``."""
    reset_at: float | None = None
    """Usage and near-limit replies: epoch seconds of the reset (default: an hour after the
    reply)."""
    claim: str = "five_hour"
    """Usage limits: ``anthropic-ratelimit-unified-representative-claim``."""
    delay: float = 0.1
    """Slow replies: seconds between frames."""
    used: float = 0.95
    """Near-limit replies: the share of the limit spent (0 to 1)."""
    unified: bool = False
    """Near-limit replies: a subscription's ``unified`` headers (else an API key's)."""

    @classmethod
    def rate_limit(
        cls, *, retry_after: int | None = None, should_retry: bool | None = None
    ) -> Fault:
        """A 429 ``rate_limit_error``."""
        return cls(kind=FaultKind.RATE_LIMIT, retry_after=retry_after, should_retry=should_retry)

    @classmethod
    def overloaded(cls, *, should_retry: bool | None = None) -> Fault:
        """A 529 ``overloaded_error``."""
        return cls(kind=FaultKind.OVERLOADED, should_retry=should_retry)

    @classmethod
    def auth(cls) -> Fault:
        """A 401 ``authentication_error`` (Claude Code retries it, as it does a 429)."""
        return cls(kind=FaultKind.AUTH)

    @classmethod
    def usage_limit(
        cls,
        *,
        reset_at: float | None = None,
        claim: str = "five_hour",
        retry_after: int | None = None,
    ) -> Fault:
        """A subscription usage limit: 429 plus the ``unified`` rejection headers.

        Under OAuth Claude Code does not retry it; under an API key it ignores the
        ``unified`` headers and retries as for any 429 unless ``retry_after`` is large.
        """
        return cls(
            kind=FaultKind.USAGE_LIMIT, reset_at=reset_at, claim=claim, retry_after=retry_after
        )

    @classmethod
    def hang(cls) -> Fault:
        """Hold the request without answering."""
        return cls(kind=FaultKind.HANG)

    @classmethod
    def slow(cls, delay: float = 0.1) -> Fault:
        """Answer normally, ``delay`` seconds between frames."""
        return cls(kind=FaultKind.SLOW, delay=delay)

    @classmethod
    def near_limit(
        cls, used: float = 0.95, *, reset_at: float | None = None, unified: bool = False
    ) -> Fault:
        """Answer normally, with headers saying ``used`` of a limit is spent, resetting at
        ``reset_at`` (default: an hour after the reply)."""
        return cls(kind=FaultKind.NEAR_LIMIT, used=used, reset_at=reset_at, unified=unified)

    def limit_headers(self, now: float) -> dict[str, str]:
        """The rate-limit headers of a near-limit reply at epoch ``now`` (else none)."""
        if self.kind is not FaultKind.NEAR_LIMIT:
            return {}
        reset = self.reset_at if self.reset_at is not None else now + 3600
        if self.unified:
            return {
                "anthropic-ratelimit-unified-status": "allowed_warning",
                "anthropic-ratelimit-unified-5h-utilization": f"{self.used:.4f}",
                "anthropic-ratelimit-unified-5h-reset": str(int(reset)),
                "anthropic-ratelimit-unified-reset": str(int(reset)),
            }
        limit = 100_000
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset))
        return {
            "anthropic-ratelimit-tokens-limit": str(limit),
            "anthropic-ratelimit-tokens-remaining": str(round(limit * (1 - self.used))),
            "anthropic-ratelimit-tokens-reset": stamp,
        }

    def error_reply(self, now: float) -> ErrorReply | None:
        """The error response this fault makes at epoch ``now``; ``None`` for hang, slow
        and near-limit."""
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["retry-after"] = str(self.retry_after)
        if self.should_retry is not None:
            headers["x-should-retry"] = "true" if self.should_retry else "false"
        match self.kind:
            case FaultKind.RATE_LIMIT:
                message = (
                    "This request would exceed the rate limit for your organization. "
                    "Please try again later."
                )
                return ErrorReply(
                    status=429, body=error_json("rate_limit_error", message), headers=headers
                )
            case FaultKind.OVERLOADED:
                return ErrorReply(
                    status=529, body=error_json("overloaded_error", "Overloaded"), headers=headers
                )
            case FaultKind.AUTH:
                body = error_json("authentication_error", "invalid x-api-key")
                return ErrorReply(status=401, body=body, headers=headers)
            case FaultKind.USAGE_LIMIT:
                reset = int(self.reset_at if self.reset_at is not None else now + 3600)
                headers |= {
                    "anthropic-ratelimit-unified-status": "rejected",
                    "anthropic-ratelimit-unified-reset": str(reset),
                    "anthropic-ratelimit-unified-representative-claim": self.claim,
                }
                message = (
                    "This request would exceed your account's rate limit. Please try again later."
                )
                return ErrorReply(
                    status=429, body=error_json("rate_limit_error", message), headers=headers
                )
            case FaultKind.HANG | FaultKind.SLOW | FaultKind.NEAR_LIMIT:
                return None


@final
@attrs.frozen(kw_only=True)
class FaultRule:
    """An injected fault: for whom, how many more times (``None``: no count), until when."""

    target: str
    fault: Fault
    times: int | None = None
    until: float | None = None
    """Epoch seconds after which the rule is gone (``None``: no end)."""

    def active(self, now: float) -> bool:
        """Whether the rule still applies at epoch ``now``."""
        return (self.times is None or self.times > 0) and (self.until is None or now < self.until)


_converter = cattrs.Converter(forbid_extra_keys=True)


def rule_from_json(data: object) -> FaultRule:
    """Parse ``{"target", "fault": {"kind", ...}, "times", "until"}`` (the control API).

    Raises:
        ValueError: the JSON does not describe a rule; the message lists why.
    """
    try:
        return _converter.structure(data, FaultRule)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError) as exc:
        reasons = cattrs.transform_error(exc) if isinstance(exc, cattrs.BaseValidationError) else []
        raise ValueError("; ".join(reasons) or f"invalid fault rule: {exc}") from exc


def rule_to_json(rule: FaultRule) -> dict[str, Any]:
    """A rule as the control API shows it."""
    data: dict[str, Any] = _converter.unstructure(rule)
    return data


@final
@attrs.define(eq=False)
class FaultBook:
    """The injected rules; thread-safe (tests inject from their thread, the server reads)."""

    _rules: list[FaultRule] = attrs.field(init=False, factory=list)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)

    def inject(self, rule: FaultRule) -> None:
        """Add ``rule`` after the existing ones (the first matching rule wins)."""
        if rule.times is not None and rule.times < 1:
            raise ValueError(f"times must be >= 1, got {rule.times}")
        with self._lock:
            self._rules.append(rule)

    def clear(self, target: str | None = None) -> None:
        """Remove every rule, or only those for ``target``."""
        with self._lock:
            self._rules = [r for r in self._rules if target is not None and r.target != target]

    def rules(self, now: float | None = None) -> tuple[FaultRule, ...]:
        """The rules still active at ``now`` (default: the current time)."""
        at = time.time() if now is None else now
        with self._lock:
            return tuple(r for r in self._rules if r.active(at))

    def take(self, caller: str, now: float) -> FaultRule | None:
        """The first active rule for ``caller`` (or any), one of its times used up."""
        with self._lock:
            self._rules = [r for r in self._rules if r.active(now)]
            for index, rule in enumerate(self._rules):
                if rule.target in (caller, ANY):
                    if rule.times is not None:
                        self._rules[index] = attrs.evolve(rule, times=rule.times - 1)
                    return rule
        return None
