"""Credentials as values: a secret that never prints, and what an instance runs on.

A :class:`Credential` is what one Claude Code instance authenticates with: an API key, an
auth token with a base URL (an Anthropic-compatible provider), or the user's Claude login
(OAuth). Its secret values are :class:`Secret` objects, which print as ``***`` and are
revealed only where they leave the process: the instance's environment.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, final

import attrs


@final
@attrs.frozen(repr=False)
class Secret:
    """A secret string. ``str()`` and ``repr()`` are ``***``; :meth:`reveal` gives the value."""

    _value: str = attrs.field(alias="value")

    def reveal(self) -> str:
        """The secret itself. Call only where it leaves the process (an environment)."""
        return self._value

    def last(self, count: int) -> str:
        """The last ``count`` characters (Claude Code approves API keys by their last 20)."""
        return self._value[-count:]

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


def redact(text: str, secrets: Iterable[Secret]) -> str:
    """``text`` with every secret's value, however short, replaced by ``***`` (longest
    first, so a secret that holds another is blanked whole)."""
    pattern = _secret_pattern(secrets)
    return text if pattern is None else pattern.sub("***", text)


def _secret_pattern(secrets: Iterable[Secret]) -> re.Pattern[str] | None:
    """One pattern matching any of the secrets' values (``None``: no secret to hide)."""
    return _compiled(frozenset(value for s in secrets if (value := s.reveal())))


@functools.lru_cache(maxsize=16)
def _compiled(values: frozenset[str]) -> re.Pattern[str] | None:
    # Compiled once per set of secrets (the set grows as instances launch): the journal,
    # the logs and status.json redact every string they write.
    if not values:
        return None
    return re.compile("|".join(map(re.escape, sorted(values, key=len, reverse=True))))


def redact_tree(value: Any, secrets: Iterable[Secret]) -> Any:
    """``value`` (decoded JSON: dicts, lists, strings...) with :func:`redact` applied to
    every string in it, keys included; written out, the JSON stays valid."""
    pattern = _secret_pattern(secrets)
    if pattern is None:
        return value

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub("***", item)
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v) for v in item]
        return item

    return walk(value)


class CredentialKind(enum.Enum):
    """How a credential authenticates."""

    OAUTH = "oauth"
    """The user's Claude login: ``CLAUDE_CODE_OAUTH_TOKEN`` or a credentials file."""
    API_KEY = "api-key"
    """An Anthropic API key (``primaryApiKey``/``apiKey``), sent as ``x-api-key``."""
    ENV = "env"
    """Environment variables (token, key, base URL, ...), as an ``env`` entry gives them."""


#: Environment variable names whose values are secrets, wherever they appear.
SECRET_ENV_NAMES = frozenset(
    {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"}
)


def _freeze_env(env: Mapping[str, Secret | str]) -> Mapping[str, Secret | str]:
    return MappingProxyType(dict(env))


@final
@attrs.frozen(kw_only=True)
class Credential:
    """One way to authenticate, named so it can be reported without its value.

    ``env`` is exactly what the instance's environment receives; values that are secrets
    are :class:`Secret`. ``oauth_file`` is a Claude credentials file to copy into the
    instance's private config dir (behind the broker it is read, and refreshed in place,
    by :mod:`claude_orchestra.broker.login` instead).
    """

    name: str
    kind: CredentialKind
    env: Mapping[str, Secret | str] = attrs.field(
        factory=dict, converter=_freeze_env, eq=False, repr=False
    )
    source: str | None = None
    oauth_file: str | None = attrs.field(default=None, repr=False)

    @property
    def api_key(self) -> Secret | None:
        """The key Claude Code would ask to approve (``ANTHROPIC_API_KEY``), if any."""
        value = self.env.get("ANTHROPIC_API_KEY")
        return value if isinstance(value, Secret) else None

    @property
    def base_url(self) -> str | None:
        """The API base URL this credential talks to, if it sets one."""
        value = self.env.get("ANTHROPIC_BASE_URL")
        return value if isinstance(value, str) else None

    def environment(self) -> dict[str, str]:
        """The variables to set in the instance's environment, secrets revealed."""
        return {k: v.reveal() if isinstance(v, Secret) else v for k, v in self.env.items()}

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret this credential holds (for the log redaction filter)."""
        return tuple(v for v in self.env.values() if isinstance(v, Secret))
