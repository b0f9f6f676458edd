"""The credential pool: which credential each instance runs on, and which are resting.

:class:`AuthRotator` keeps every credential's state — available, cooling down until a reset
time, or invalid for the rest of the run — assigns credentials to instances (sticky: an
instance keeps its credential until that credential fails), and records failures against
the credential the instance actually held. Which credential comes next is the
``orchestra_select_credential`` hook's decision; the rotator only knows the pool.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import final

import attrs

from claude_orchestra._clock import Clock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.errors import PrerequisiteError
from claude_orchestra.events import FailureKind


class AuthMode(enum.Enum):
    """How the pool is ordered (``authMode`` in ``orchestrator.json``)."""

    OAUTH = "oauth"
    """The user's Claude login first, then the API keys."""
    API_KEYS_FIRST = "api-keys-first"
    """The API keys first, then the Claude login."""
    API_KEYS_ONLY = "api-keys-only"
    """Only the API keys."""


class CredentialStatus(enum.Enum):
    """Whether a credential can be handed out."""

    AVAILABLE = "available"
    COOLING = "cooling"
    INVALID = "invalid"
    SPENT = "spent"
    """Its budget for this run is used up (``budget.credentialUsd``/``credentialTokens``)."""


@final
@attrs.frozen(kw_only=True)
class CredentialState:
    """One credential's standing, by name (never its value)."""

    name: str
    kind: CredentialKind
    status: CredentialStatus
    until: float | None = None
    """For COOLING: the wall-clock time it may be used again."""
    holders: tuple[str, ...] = ()
    """Instances running on it now."""


@final
@attrs.frozen(kw_only=True)
class PoolView:
    """The pool as plugins see it, in pool order."""

    credentials: tuple[CredentialState, ...]

    @property
    def available(self) -> tuple[CredentialState, ...]:
        """Credentials that can be handed out now."""
        return tuple(c for c in self.credentials if c.status is CredentialStatus.AVAILABLE)

    def next_available(self, after: str) -> str | None:
        """The first available credential after ``after`` in pool order, wrapping around,
        never ``after`` itself (``None``: there is none)."""
        names = [c.name for c in self.credentials]
        available = {c.name for c in self.available} - {after}
        start = names.index(after) + 1 if after in names else 0
        return next((n for n in names[start:] + names[:start] if n in available), None)


@final
@attrs.frozen(kw_only=True)
class CredentialFailure:
    """A turn failed because of its credential."""

    instance: str
    credential: str
    kind: FailureKind
    detail: str
    at: float
    reset_at: float | None = None
    """When the limit lifts (wall clock), if the message said."""
    budget: bool = False
    """Not an API error: the credential's budget for this run is spent."""

    @property
    def reason(self) -> str:
        """``budget``, or the ``StopFailure`` error (``rate_limit``...)."""
        return "budget" if self.budget else self.kind.value


def discover_oauth(environ: Mapping[str, str], home: Path) -> Credential | None:
    """The user's Claude login: ``CLAUDE_CODE_OAUTH_TOKEN``, else their credentials file.

    The file is only read to check it holds a login; it is later copied into each
    instance, or, behind the broker, refreshed in place as Claude Code would
    (:mod:`claude_orchestra.broker.login`).
    ``ANTHROPIC_BASE_URL`` in the environment (a gateway or proxy) goes with the login.
    """
    gateway = (
        {"ANTHROPIC_BASE_URL": environ["ANTHROPIC_BASE_URL"]}
        if environ.get("ANTHROPIC_BASE_URL")
        else {}
    )
    token = environ.get("CLAUDE_CODE_OAUTH_TOKEN")
    if token:
        return Credential(
            name="oauth",
            kind=CredentialKind.OAUTH,
            env={"CLAUDE_CODE_OAUTH_TOKEN": Secret(token), **gateway},
            source="CLAUDE_CODE_OAUTH_TOKEN",
        )
    config_dir = Path(environ.get("CLAUDE_CONFIG_DIR") or home / ".claude")
    path = config_dir / ".credentials.json"
    try:
        login = json.loads(path.read_text(encoding="utf-8")).get("claudeAiOauth")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(login, dict) or not login.get("accessToken"):
        return None
    return Credential(
        name="oauth",
        kind=CredentialKind.OAUTH,
        env=gateway,
        source=str(path),
        oauth_file=str(path),
    )


def order_pool(
    mode: AuthMode, keys: Sequence[Credential], oauth: Credential | None
) -> tuple[Credential, ...]:
    """The pool in rotation order for ``mode``.

    Raises:
        PrerequisiteError: the mode leaves no credential at all.
    """
    if mode is AuthMode.API_KEYS_ONLY:
        pool: tuple[Credential, ...] = tuple(keys)
    elif mode is AuthMode.API_KEYS_FIRST:
        pool = (*keys, *([oauth] if oauth else []))
    else:
        pool = (*([oauth] if oauth else []), *keys)
    if not pool:
        reason = (
            "api-keys-only needs at least one entry in api-keys.json"
            if mode is AuthMode.API_KEYS_ONLY
            else "no Claude login (CLAUDE_CODE_OAUTH_TOKEN or ~/.claude/.credentials.json) "
            "and no api-keys.json entry"
        )
        raise PrerequisiteError("credentials", reason)
    return pool


@final
@attrs.define(eq=False, repr=False)
class AuthRotator:
    """A pool of credentials with cooldowns and sticky assignments."""

    _pool: tuple[Credential, ...] = attrs.field(alias="pool")
    _clock: Clock = attrs.field(alias="clock")
    default_cooldown: float = 300.0
    """Seconds a limited credential rests when the message gives no reset time."""
    spread: bool = False
    """Spread instances over the pool at start (else all start on the first credential)."""
    _cooling_until: dict[str, float] = attrs.field(init=False, factory=dict)
    _invalid: set[str] = attrs.field(init=False, factory=set)
    _spent: set[str] = attrs.field(init=False, factory=set)
    _holders: dict[str, str] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        names = [c.name for c in self._pool]
        if not names:
            raise ValueError("an AuthRotator needs at least one credential")
        if len(set(names)) != len(names):
            raise ValueError(f"credential names must be unique: {names}")

    def __repr__(self) -> str:
        return f"<AuthRotator {[c.name for c in self._pool]}>"

    def get(self, name: str) -> Credential:
        """The credential called ``name``."""
        for credential in self._pool:
            if credential.name == name:
                return credential
        raise KeyError(name)

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret in the pool (for log redaction)."""
        return tuple(s for c in self._pool for s in c.secrets())

    def _status(self, name: str) -> CredentialStatus:
        if name in self._invalid:
            return CredentialStatus.INVALID
        if name in self._spent:
            return CredentialStatus.SPENT
        if self._cooling_until.get(name, 0.0) > self._clock.wall():
            return CredentialStatus.COOLING
        return CredentialStatus.AVAILABLE

    def view(self) -> PoolView:
        """The pool's standing, in order."""
        return PoolView(
            credentials=tuple(
                CredentialState(
                    name=c.name,
                    kind=c.kind,
                    status=self._status(c.name),
                    until=self._cooling_until.get(c.name)
                    if self._status(c.name) is CredentialStatus.COOLING
                    else None,
                    holders=tuple(sorted(i for i, n in self._holders.items() if n == c.name)),
                )
                for c in self._pool
            )
        )

    def assign_initial(self, instances: Iterable[str]) -> dict[str, Credential]:
        """Each instance's first credential: the first available, or spread over the pool."""
        available = [c for c in self._pool if self._status(c.name) is CredentialStatus.AVAILABLE]
        if not available:
            available = list(self._pool)
        chosen = {}
        for index, instance in enumerate(instances):
            credential = available[index % len(available)] if self.spread else available[0]
            chosen[instance] = credential
            self._holders[instance] = credential.name
        return chosen

    def usable(self, name: str) -> bool:
        """Whether a request on credential ``name`` may be sent now (not cooling, invalid
        or spent)."""
        return self._status(name) is CredentialStatus.AVAILABLE

    def standing(self, name: str) -> CredentialState:
        """One credential's standing (see :meth:`view`)."""
        return next(c for c in self.view().credentials if c.name == name)

    def holder_of(self, instance: str) -> Credential:
        """The credential ``instance`` holds."""
        return self.get(self._holders[instance])

    def record_failure(self, failure: CredentialFailure) -> None:
        """Rest or retire the credential the instance held when its request failed."""
        if failure.kind is FailureKind.RATE_LIMIT:
            until = failure.reset_at or failure.at + self.default_cooldown
            self._cooling_until[failure.credential] = max(
                until, self._cooling_until.get(failure.credential, 0.0)
            )
        elif failure.kind.is_credential_problem:
            self._invalid.add(failure.credential)

    def restore_limits(self, failures: Iterable[CredentialFailure]) -> None:
        """Cool down again what an earlier process of this run saw limited (``run
        --resume``); limits of credentials no longer in the pool are ignored."""
        names = {c.name for c in self._pool}
        for failure in failures:
            if failure.credential in names and failure.kind is FailureKind.RATE_LIMIT:
                self.record_failure(failure)

    def mark_spent(self, name: str) -> None:
        """The credential's budget is used up: never hand it out again in this run."""
        self.get(name)
        self._spent.add(name)

    def move(self, instance: str, name: str) -> Credential:
        """``instance`` now holds the credential ``name`` (sticky until it fails)."""
        credential = self.get(name)
        self._holders[instance] = name
        return credential

    def next_available_at(self) -> float | None:
        """When the earliest cooling credential becomes available (``None``: never)."""
        retired = self._invalid | self._spent
        times = [t for n, t in self._cooling_until.items() if n not in retired]
        return min(times) if times else None
