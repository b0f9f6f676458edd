"""Broker tokens: one opaque token per launch of each instance, in place of a credential.

An instance's process gets its token as its ``ANTHROPIC_API_KEY``; the broker maps the
token back to the instance and launch. A new launch's token replaces the old one: a
replaced process can spend nothing more. Tokens are looked up by their SHA-256 digest, so
the lookup time says nothing about a guess.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import final

import attrs

from claude_orchestra.auth.credentials import Secret

PREFIX = "sk-orchestra-broker-"
"""Every broker token starts so: recognisable in a leak, and never a real key."""


@final
@attrs.frozen(kw_only=True)
class Holder:
    """Whose token a request carried."""

    instance: str
    launch: int


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


@final
@attrs.define(eq=False, repr=False)
class BrokerTokens:
    """The tokens issued so far, one live token per instance."""

    _holders: dict[bytes, Holder] = attrs.field(init=False, factory=dict)
    _current: dict[str, bytes] = attrs.field(init=False, factory=dict)
    _issued: list[Secret] = attrs.field(init=False, factory=list)

    def __repr__(self) -> str:
        return f"<BrokerTokens {len(self._current)} live>"

    def issue(self, instance: str, launch: int) -> Secret:
        """A new token for ``instance``'s ``launch``-th process; the previous launch's
        token stops working.

        Raises:
            ValueError: ``launch`` is not positive.
        """
        if launch < 1:
            raise ValueError(f"launch numbers start at 1, got {launch}")
        token = Secret(PREFIX + secrets.token_urlsafe(32))
        old = self._current.pop(instance, None)
        if old is not None:
            self._holders.pop(old, None)
        digest = _digest(token.reveal())
        self._holders[digest] = Holder(instance=instance, launch=launch)
        self._current[instance] = digest
        self._issued.append(token)
        return token

    def revoke(self, instance: str) -> None:
        """``instance``'s token stops working (its process ended)."""
        old = self._current.pop(instance, None)
        if old is not None:
            self._holders.pop(old, None)

    def holder(self, token: str) -> Holder | None:
        """Who holds ``token`` (``None``: nobody now)."""
        return self._holders.get(_digest(token)) if token else None

    def secrets(self) -> tuple[Secret, ...]:
        """Every token issued (for log redaction)."""
        return tuple(self._issued)


def presented_token(header: Callable[[str], str]) -> str:
    """The token a request carries: its ``x-api-key``, else its bearer token.

    Args:
        header: the request's header of a lower-case name (``""``: none).
    """
    key = header("x-api-key")
    if key:
        return key
    scheme, _, token = header("authorization").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
