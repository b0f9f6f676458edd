"""Sending on the hook events a host's instances spooled while its connection was down.

On a host every hook runs the relay, which keeps an event it cannot post in the launch's
spool folder (see :mod:`claude_orchestra.intake.relay`). When the connection is back, the
runtime asks the relay there to drain each instance's spool, with the launch's hook token
on the command's standard input (never on the host's disk), before it tells the loop the
instances were re-adopted. An instance's next hook would drain it too; this covers the
instance that sends none (it stopped while the link was down).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from claude_orchestra.errors import RemoteError
from claude_orchestra.runtimes.remote import commands as sh
from claude_orchestra.runtimes.remote.adoption import Launched
from claude_orchestra.runtimes.remote.link import HostLink

logger = logging.getLogger(__name__)


async def replay(
    link: HostLink,
    *,
    python: str,
    relay: PurePosixPath,
    launched: Mapping[str, Launched],
    names: Iterable[str],
) -> int:
    """Drain the spool of each of ``names``' current launch; how many events were sent.

    A drain cut short (the connection dropped again) is logged and ends the replay: the
    events stay spooled for the next return of the connection, or each instance's next
    hook.
    """
    sent = 0
    for name in sorted(names):
        known = launched.get(name)
        if known is None or known.spool is None:
            continue
        spool = known.spool
        try:
            printed = await link.run(
                sh.drain(python, relay, spool.url, spool.folder), stdin=f"{spool.token.reveal()}\n"
            )
        except RemoteError as exc:  # dropped again, most likely: the rest wait too
            logger.warning("%s: its spooled hook events wait: %s", name, exc.reason)
            break
        count = printed.strip()
        sent += int(count) if count.isdigit() else 0
    return sent
