"""The original tool's rotation: the next available credential in pool order.

OAuth -> key 1 -> key 2 -> ... -> back to OAuth once its cooldown has passed. The search
starts after the credential that failed, so instances spread along the pool instead of
all piling onto its first entry.
"""

from __future__ import annotations

from claude_orchestra.auth.rotator import CredentialFailure, PoolView
from claude_orchestra.hookspecs import hookimpl
from claude_orchestra.instance import InstanceView


@hookimpl(trylast=True)
def orchestra_select_credential(
    instance: InstanceView, pool: PoolView, failure: CredentialFailure
) -> str | None:
    """The first available credential after the failed one, wrapping around."""
    return pool.next_available(failure.credential)
