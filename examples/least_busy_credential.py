"""A credential-selection plugin: after a limit, move to the credential fewest instances share.

The built-in rotation takes the next available credential in pool order, so after a limit
every instance on the failed credential lands on the same next one. This plugin spreads
them instead. Register it for a run with ``Orchestrator(config, plugins=[LeastBusy()])``
or install it through the ``claude_orchestra`` entry-point group.
"""

from __future__ import annotations

from claude_orchestra import CredentialFailure, InstanceView, PoolView, hookimpl


class LeastBusy:
    """Chooses the available credential with the fewest holders."""

    @hookimpl
    def orchestra_select_credential(
        self, instance: InstanceView, pool: PoolView, failure: CredentialFailure
    ) -> str | None:
        """Asked before the built-in rotation; ``None`` lets the built-in decide."""
        choices = [c for c in pool.available if c.name != failure.credential]
        if not choices:
            return None  # nothing else is available: the built-in pauses until a reset
        return min(choices, key=lambda c: (len(c.holders), c.name)).name
