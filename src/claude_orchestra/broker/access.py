"""What an instance's launch needs of the credential broker, as a protocol: the launch
depends on this, not on the broker's HTTP side (:mod:`~claude_orchestra.broker.service`,
which is imported only when a run starts a broker)."""

from __future__ import annotations

from typing import Protocol

from claude_orchestra.auth.credentials import Credential


class BrokerAccess(Protocol):
    """What an instance's launch needs of the broker."""

    def launch_credential(self, instance: str, launch: int) -> Credential:
        """What the ``launch``-th process of ``instance`` authenticates with: the broker's
        URL and a token of that launch."""
        ...

    def credential_of(self, instance: str) -> Credential:
        """The real credential ``instance``'s requests go out on now."""
        ...
