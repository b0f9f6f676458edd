"""What to do when a turn fails because of its credential: move, pause, or give up.

:class:`Failover` turns a ``StopFailure`` that blames the credential (a rate or usage
limit, an authentication failure) into a decision the loop carries out:

- :class:`MoveTo`: restart the instance on another credential, same conversation
  (``orchestra_select_credential`` chooses; the built-in takes the next available one);
- :class:`PauseUntil`: every credential is resting; wait until the earliest reset, then ask
  again — never exit, never spin;
- :class:`StayOn`: the instance's own credential is usable again; just resend the prompt;
- :class:`NoCredential`: every credential is invalid; nothing will ever work.

Every move is kept as a :class:`Rotation` with the seconds it took to recover (the first
successful request on the new credential, seen as a tool use or a Stop). It keeps nothing
else of an instance: the failure that a decision is about is passed in each time (the loop
keeps it in the instance's record).
"""

from __future__ import annotations

from typing import final

import attrs

from claude_orchestra._clock import Clock
from claude_orchestra.auth.moves import Decision, MoveTo, NoCredential, PauseUntil, Rotation, StayOn
from claude_orchestra.auth.reset_time import parse_reset_time
from claude_orchestra.auth.rotator import AuthRotator, CredentialFailure, CredentialStatus
from claude_orchestra.events import TurnFailed
from claude_orchestra.instance import InstanceView
from claude_orchestra.plugins import PluginHost


@final
@attrs.define(eq=False)
class Failover:
    """Decides, for each credential failure, where the instance goes next."""

    rotator: AuthRotator
    plugins: PluginHost
    clock: Clock
    _rotations: list[Rotation] = attrs.field(init=False, factory=list)

    @property
    def rotations(self) -> tuple[Rotation, ...]:
        """Every move so far."""
        return tuple(self._rotations)

    def failure_of(self, instance: InstanceView, event: TurnFailed) -> CredentialFailure:
        """Record the failure against the credential the instance held when it failed."""
        now = self.clock.wall()
        failure = CredentialFailure(
            instance=instance.name,
            credential=instance.credential,
            kind=event.error,
            detail=event.detail,
            at=now,
            reset_at=parse_reset_time(event.detail, now=now),
        )
        self.rotator.record_failure(failure)
        return failure

    def decide(self, instance: InstanceView, failure: CredentialFailure) -> Decision:
        """Where the instance goes after ``failure``, its last (ask again with the same
        failure when a pause ends; a credential the core retired for its budget comes as
        such a failure too)."""
        pool = self.rotator.view()
        own = next(c for c in pool.credentials if c.name == instance.credential)
        if own.status is CredentialStatus.AVAILABLE:  # its cooldown is over: sticky
            return StayOn()
        choice = self.plugins.select_credential(instance, pool, failure)
        if choice is not None:
            self._move(instance.name, failure, choice)
            return MoveTo(self.rotator.move(instance.name, choice))
        until = self.rotator.next_available_at()
        return NoCredential() if until is None else PauseUntil(until)

    def _move(self, instance: str, failure: CredentialFailure, to: str) -> None:
        self._rotations.append(
            Rotation(
                instance=instance,
                from_credential=failure.credential,
                to_credential=to,
                reason=failure.reason,
                evidence=failure.detail,
                at=failure.at,
            )
        )

    def progressed(self, instance: str) -> None:
        """A request of ``instance`` succeeded (a tool ran, a turn stopped): its latest move,
        if it is not yet known to have worked, has now."""
        for index in range(len(self._rotations) - 1, -1, -1):
            rotation = self._rotations[index]
            if rotation.instance == instance:
                if rotation.recovered_at is None:
                    self._rotations[index] = attrs.evolve(rotation, recovered_at=self.clock.wall())
                return
