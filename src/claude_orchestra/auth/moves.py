"""Where an instance goes after its credential failed, and the record of each move: values
(decided by :class:`~claude_orchestra.auth.failover.Failover`, carried out by the loop).

- :class:`MoveTo`: restart the instance on another credential, same conversation;
- :class:`PauseUntil`: every credential is resting; wait until the earliest reset;
- :class:`StayOn`: the instance's own credential is usable again; just resend the prompt;
- :class:`NoCredential`: every credential is invalid; nothing will ever work.
"""

from __future__ import annotations

from typing import final

import attrs

from claude_orchestra.auth.credentials import Credential


@final
@attrs.frozen
class MoveTo:
    """Restart on ``credential``."""

    credential: Credential


@final
@attrs.frozen
class PauseUntil:
    """Wait until the wall-clock time ``until``, then decide again."""

    until: float


@final
@attrs.frozen
class StayOn:
    """The instance's own credential is available again: resend its prompt."""


@final
@attrs.frozen
class NoCredential:
    """No credential can ever serve this instance again in this run."""


Decision = MoveTo | PauseUntil | StayOn | NoCredential


@final
@attrs.frozen(kw_only=True)
class Rotation:
    """An instance moved from one credential to another."""

    instance: str
    from_credential: str
    to_credential: str
    reason: str
    """The ``StopFailure`` error (``rate_limit``, ``authentication_failed``...) or
    ``budget``."""
    evidence: str
    at: float
    recovered_at: float | None = None
    """When the first request on the new credential succeeded."""

    @property
    def seconds_to_recovery(self) -> float | None:
        """From the failure to the first success on the new credential."""
        return None if self.recovered_at is None else self.recovered_at - self.at
