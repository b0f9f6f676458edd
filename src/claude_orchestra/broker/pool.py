"""The broker's side of the credential pool: it tells the rotator, the rotator decides.

:class:`RotatorPool` answers "which credential does this instance's next request go out
on" from the :class:`~claude_orchestra.auth.rotator.AuthRotator` (the one owner of credential
state), and reports what the broker saw: a credential that failed a request
(:meth:`RotatorPool.failed`) or is about to run out (:meth:`RotatorPool.strained`) is
rested or retired in the rotator, and every instance holding it moves to the credential
the ``select`` rule names (in a run, the ``orchestra_select_credential`` hook). Moving
every holder at once keeps the rule the loop relies on: an instance's credential is
always usable unless none is.

All of it runs on the event loop, between two awaits of the broker's handler: a move is
one step, never interleaved with another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import final

import attrs

from claude_orchestra._clock import Clock
from claude_orchestra.auth.credentials import Credential
from claude_orchestra.auth.rotator import AuthRotator, CredentialFailure, PoolView
from claude_orchestra.events import FailureKind

logger = logging.getLogger(__name__)

Select = Callable[[str, PoolView, CredentialFailure], "str | None"]
"""Given an instance, the pool and the failure it suffered: the credential it goes to."""


@final
@attrs.frozen(kw_only=True)
class BrokerRotation:
    """The broker moved an instance to another credential between two requests."""

    instance: str
    from_credential: str
    to_credential: str
    reason: str
    """``rate_limit``, ``authentication_failed``, ``billing_error`` or ``near_limit``."""
    evidence: str
    at: float


def first_available_after(instance: str, pool: PoolView, failure: CredentialFailure) -> str | None:
    """The built-in rule outside a run: the next available credential after the failed
    one, in pool order (a run asks its plugins instead)."""
    return pool.next_available(failure.credential)


@final
@attrs.define(eq=False)
class RotatorPool:
    """The rotator, as the broker uses it."""

    rotator: AuthRotator
    clock: Clock
    select: Select = first_available_after
    on_failure: Callable[[CredentialFailure], None] = lambda _: None
    """Told of every failure reported to the rotator (the run journals it)."""
    on_move: Callable[[BrokerRotation], None] = lambda _: None
    """Told of every move (the run journals it)."""
    _moves: list[BrokerRotation] = attrs.field(init=False, factory=list)

    @property
    def moves(self) -> tuple[BrokerRotation, ...]:
        """Every move so far."""
        return tuple(self._moves)

    def route(self, instance: str) -> Credential | None:
        """The credential ``instance``'s next request goes out on (``None``: none is
        usable now). An instance still holding a resting credential (nothing was free
        when it began to rest) moves now if something is."""
        held = self.rotator.holder_of(instance)
        if self.rotator.usable(held.name):
            return held
        standing = self.rotator.standing(held.name)
        failure = CredentialFailure(
            instance=instance,
            credential=held.name,
            kind=FailureKind.RATE_LIMIT,
            detail=f"its credential {held.name} is {standing.status.value}",
            at=self.clock.wall(),
            reset_at=standing.until,
        )
        self._move(instance, failure, failure.kind.value)
        moved = self.rotator.holder_of(instance)
        return moved if self.rotator.usable(moved.name) else None

    def holder(self, instance: str) -> Credential:
        """The credential ``instance`` holds, usable or not."""
        return self.rotator.holder_of(instance)

    def failed(
        self,
        instance: str,
        credential: str,
        kind: FailureKind,
        *,
        reset_at: float | None,
        detail: str,
        reason: str | None = None,
    ) -> None:
        """A request of ``instance`` on ``credential`` failed before anything streamed
        (``kind``, the API's words in ``detail``): the rotator rests or retires it, and
        its holders move (their moves say ``reason``, default ``kind``)."""
        failure = CredentialFailure(
            instance=instance,
            credential=credential,
            kind=kind,
            detail=detail,
            at=self.clock.wall(),
            reset_at=reset_at,
        )
        self.rotator.record_failure(failure)
        self.on_failure(failure)
        self._move_holders(failure, reason=reason)

    def strained(
        self,
        instance: str,
        credential: str,
        *,
        used: float,
        reset_at: float | None,
        threshold: float,
    ) -> None:
        """``credential`` reported ``used`` of a limit, at or past ``threshold``: it rests
        until ``reset_at`` as if limited, and its holders move before any 429."""
        self.failed(
            instance,
            credential,
            FailureKind.RATE_LIMIT,
            reset_at=reset_at,
            detail=f"{used:.0%} of a limit used (threshold {threshold:.0%})",
            reason="near_limit",
        )

    def retire(self, instance: str, credential: str, reason: str) -> None:
        """``credential``'s budget for this run is spent: the rotator retires it and its
        holders move."""
        self.rotator.mark_spent(credential)
        failure = CredentialFailure(
            instance=instance,
            credential=credential,
            kind=FailureKind.BILLING_ERROR,
            detail=reason,
            at=self.clock.wall(),
            budget=True,
        )
        self._move_holders(failure, reason="budget")

    def _move_holders(self, failure: CredentialFailure, *, reason: str | None = None) -> None:
        if self.rotator.usable(failure.credential):
            return
        for holder in self.rotator.standing(failure.credential).holders:
            self._move(holder, attrs.evolve(failure, instance=holder), reason or failure.kind.value)

    def _move(self, instance: str, failure: CredentialFailure, reason: str) -> None:
        choice = self.select(instance, self.rotator.view(), failure)
        if choice is None or choice == failure.credential:
            return
        self.rotator.move(instance, choice)
        move = BrokerRotation(
            instance=instance,
            from_credential=failure.credential,
            to_credential=choice,
            reason=reason,
            evidence=failure.detail,
            at=failure.at,
        )
        self._moves.append(move)
        logger.info(
            "broker: %s moves from %s to %s (%s)",
            instance,
            failure.credential,
            choice,
            reason,
            extra={"instance": instance},
        )
        self.on_move(move)

    def retry_at(self) -> float | None:
        """When the first resting credential may serve again (``None``: never)."""
        return self.rotator.next_available_at()
