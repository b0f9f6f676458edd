"""The broker's decisions, as pure functions of what the API answered and the time.

- :func:`judge`: an upstream answer that arrived before anything was streamed to the
  instance either goes on to it (:class:`Forward`) or blames the credential
  (:class:`Rotate`: a 429, a 401, a billing refusal), and the same request is sent again
  on the next credential. Overloads (529) and server errors are not the credential's
  fault: they go on, and Claude Code retries them as it does without a broker.
- :func:`refresh_first`: a 401 on a login kept in a credentials file is first answered by
  refreshing the login, once, and sending the request again on it; the login is reported
  only when that fails too.
- :func:`reset_at`: when a limit lifts, from the headers (``anthropic-ratelimit-unified-
  reset``, ``retry-after``, the ``anthropic-ratelimit-*-reset`` of an exhausted limit) or
  the error message's words (:func:`~claude_orchestra.auth.reset_time.parse_reset_time`).
- :func:`pressure`: how much of its limits a credential has used, from the headers of a
  successful answer, so new requests can leave it before it runs out.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
from collections.abc import Mapping
from typing import final

import attrs

from claude_orchestra.auth.reset_time import parse_reset_time
from claude_orchestra.events import FailureKind

MAX_ERROR_BYTES = 64 * 1024
"""The most of an error body read to judge it (error bodies are small JSON)."""

_API_KEY_LIMITS = ("requests", "tokens", "input-tokens", "output-tokens")
_UNIFIED_WINDOWS = ("5h", "7d")


@final
@attrs.frozen
class Forward:
    """Pass the answer on to the instance as it is."""


@final
@attrs.frozen(kw_only=True)
class Rotate:
    """The credential failed this request: rest or retire it, try the next one."""

    kind: FailureKind
    """``rate_limit``, ``authentication_failed`` or ``billing_error``."""
    reset_at: float | None
    """Epoch seconds when it may serve again (``None``: the rotator's default cooldown;
    ignored for a failure that retires the credential)."""
    detail: str
    """The API's own message, for the journal (never a secret: the API's words)."""


Verdict = Forward | Rotate


def error_message(body: bytes) -> tuple[str | None, str]:
    """``error.type`` and ``error.message`` of an API error body (``None`` and ``""``
    when it is not one)."""
    try:
        data = json.loads(body[:MAX_ERROR_BYTES])
    except ValueError:
        return None, ""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None, ""
    kind, message = error.get("type"), error.get("message")
    return (
        kind if isinstance(kind, str) else None,
        message[:500] if isinstance(message, str) else "",
    )


def judge(status: int, headers: Mapping[str, str], body: bytes, *, now: float) -> Verdict:
    """What to do with an answer of ``status`` that nothing was streamed of yet.

    Args:
        status: the HTTP status.
        headers: its headers, names in lower case.
        body: its body when it is an error (the first :data:`MAX_ERROR_BYTES`), else
            ``b""``.
        now: epoch seconds.
    """
    if status < 400:
        return Forward()
    kind, message = error_message(body)
    detail = f"{status} {kind or 'error'}: {message}".strip()
    if status == 429:
        return Rotate(
            kind=FailureKind.RATE_LIMIT,
            reset_at=reset_at(headers, message, now=now),
            detail=detail,
        )
    if status == 401 or kind == "authentication_error":
        return Rotate(kind=FailureKind.AUTHENTICATION_FAILED, reset_at=None, detail=detail)
    if status in (400, 402, 403) and "credit balance" in message.lower():
        return Rotate(kind=FailureKind.BILLING_ERROR, reset_at=None, detail=detail)
    return Forward()


def refresh_first(verdict: Rotate, *, login: bool) -> bool:
    """Whether to refresh the credential and send the request again on it, once, before
    reporting it: an authentication failure of a login kept in a credentials file (its
    token may have been revoked or rotated while its expiry looked fine).

    Args:
        verdict: what :func:`judge` said of the answer.
        login: the request went with a login's token read from its credentials file (a
            login that can be refreshed; an API key or ``CLAUDE_CODE_OAUTH_TOKEN`` cannot).
    """
    return verdict.kind is FailureKind.AUTHENTICATION_FAILED and login


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _instant(text: str | None) -> float | None:
    """An RFC 3339 time (``2026-12-03T15:00:00Z``) as epoch seconds."""
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _retry_after(text: str | None, now: float) -> float | None:
    """``retry-after``: seconds, or an HTTP date."""
    seconds = _number(text)
    if seconds is not None:
        return now + max(0.0, seconds)
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        return None


def reset_at(headers: Mapping[str, str], message: str, *, now: float) -> float | None:
    """When a limit lifts: the subscription's reset, else the latest reset of an exhausted
    API-key limit, else ``retry-after``, else a time the message names; never before
    ``now`` (``None``: nothing says)."""
    candidates: list[float | None] = [_number(headers.get("anthropic-ratelimit-unified-reset"))]
    if candidates[0] is None:
        exhausted = [
            _instant(headers.get(f"anthropic-ratelimit-{limit}-reset"))
            for limit in _API_KEY_LIMITS
            if _number(headers.get(f"anthropic-ratelimit-{limit}-remaining")) == 0
        ]
        candidates = [max((t for t in exhausted if t is not None), default=None)]
        candidates.append(_retry_after(headers.get("retry-after"), now))
        candidates.append(parse_reset_time(message, now=now) if message else None)
    found = next((t for t in candidates if t is not None), None)
    return None if found is None else max(found, now)


@final
@attrs.frozen(kw_only=True)
class Pressure:
    """How much of its most used limit a credential has spent, and when that resets."""

    used: float
    """0 (untouched) to 1 (exhausted)."""
    reset_at: float | None


def pressure(headers: Mapping[str, str], *, now: float) -> Pressure | None:
    """The most used of the limits the headers report (``None``: they report none).

    Subscriptions send ``anthropic-ratelimit-unified-<5h|7d>-utilization`` (a fraction)
    with ``-reset`` (epoch seconds); API keys send ``anthropic-ratelimit-<requests|tokens|
    input-tokens|output-tokens>-<limit|remaining|reset>`` (``reset`` in RFC 3339).
    """
    seen: list[Pressure] = []
    for window in _UNIFIED_WINDOWS:
        used = _number(headers.get(f"anthropic-ratelimit-unified-{window}-utilization"))
        if used is not None:
            reset = _number(headers.get(f"anthropic-ratelimit-unified-{window}-reset"))
            seen.append(Pressure(used=min(max(used, 0.0), 1.0), reset_at=reset))
    for limit in _API_KEY_LIMITS:
        total = _number(headers.get(f"anthropic-ratelimit-{limit}-limit"))
        left = _number(headers.get(f"anthropic-ratelimit-{limit}-remaining"))
        if total is not None and left is not None and total > 0:
            used = min(max(1.0 - left / total, 0.0), 1.0)
            reset = _instant(headers.get(f"anthropic-ratelimit-{limit}-reset"))
            seen.append(Pressure(used=used, reset_at=reset))
    if not seen:
        return None
    worst = max(seen, key=lambda p: p.used)
    reset = worst.reset_at
    return attrs.evolve(worst, reset_at=None if reset is None else max(reset, now))
