"""Hook credentials: one token per launch of each instance, bound to it in the URL.

Every process an instance runs gets its own random token when it is launched. Its hooks post
to ``/hooks/<instance>/<launch>`` and its exit is reported to
``/panes/<instance>/<launch>/died``, each with ``Authorization: Bearer <token>``; the hook
app accepts a request only when the token is the one issued for that instance and launch.
An instance (hostile in the ``sandbox`` and ``container`` runtimes) knows its own token
only, so it can post events about itself, never about another instance.

The token reaches the process through its environment (the launch file its supervisor reads
and deletes). For tmux's ``pane-died`` fallback, which runs on the host, the current launch
and its token are kept in a 0600 file per instance in a folder no instance can see (under
the instances folder, which the sandbox hides, and outside every instance's home).
"""

from __future__ import annotations

import hmac
import json
import secrets
from pathlib import Path
from typing import final

import attrs

from claude_orchestra._safe_files import write_private
from claude_orchestra.auth.credentials import Secret

_UNKNOWN = b"Bearer " + secrets.token_urlsafe(32).encode()


@final
@attrs.define(eq=False, repr=False)
class HookKeys:
    """The hook tokens issued so far, by instance and launch (the hook app checks them).

    Used from the orchestrator's event loop only (the hook app runs on it too).
    """

    folder: Path | None = None
    """Where the current launch and token of each instance are kept for tmux's pane-died
    relay, in ``<folder>/<instance>/hook-key.json`` (``None``: nowhere, for tests without
    tmux)."""
    _issued: dict[tuple[str, int], Secret] = attrs.field(init=False, factory=dict)

    def __repr__(self) -> str:
        return f"<HookKeys {len(self._issued)} issued>"

    def issue(self, instance: str, launch: int) -> Secret:
        """A new token for ``instance``'s ``launch``-th process.

        Raises:
            ValueError: that launch already has one, or ``launch`` is not positive.
        """
        if launch < 1:
            raise ValueError(f"launch numbers start at 1, got {launch}")
        if (instance, launch) in self._issued:
            raise ValueError(f"{instance} launch {launch} already has a token")
        token = Secret(secrets.token_urlsafe(32))
        self._issued[instance, launch] = token
        if self.folder is not None:
            write_private(
                self.key_file(instance), json.dumps({"launch": launch, "token": token.reveal()})
            )
        return token

    def key_file(self, instance: str) -> Path:
        """The file holding ``instance``'s current launch and token (for tmux's relay).

        Raises:
            ValueError: no folder was given.
        """
        if self.folder is None:
            raise ValueError("these hook keys are kept in memory only")
        return self.folder / instance / "hook-key.json"

    def accepts(self, instance: str, launch: int, authorization: str) -> bool:
        """Whether ``authorization`` (the header's value) is ``Bearer <token>`` with the
        token issued for ``instance``'s ``launch`` (compared in constant time)."""
        token = self._issued.get((instance, launch))
        expected = f"Bearer {token.reveal()}".encode() if token is not None else _UNKNOWN
        return hmac.compare_digest(authorization.encode("utf-8", "replace"), expected) and (
            token is not None
        )

    def secrets(self) -> tuple[Secret, ...]:
        """Every token issued (for log redaction)."""
        return tuple(self._issued.values())
