"""Running a command the instances wrote (the merge gate's ``mergeTestCommand``) where
their code may run: inside the run's runtime, with a minimal environment.

The test command runs code from the workers' branches. On the host it would run as the
user with the orchestrator's environment (API keys, the hook token, the user's
credentials). So :class:`~claude_orchestra.runtimes.base.Runtime.run_command` runs it the
runtime's way: ``local`` on the host (it trusts its instances) but with only
:func:`minimal_environment`; ``sandbox`` in bubblewrap with the integration worktree the
only writable folder and the orchestrator's state hidden; ``container`` in the engine.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, final

import anyio
import attrs

_PASSED_ON: Final = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
OUTPUT_CAP: Final = 64 * 1024
"""Bytes of a command's output kept (the last ones): a test that prints without end
cannot fill the orchestrator's memory."""


@final
@attrs.frozen(kw_only=True)
class CommandResult:
    """How a command run by a runtime ended."""

    returncode: int | None
    """Its exit status (negative: the signal that ended it)."""
    output: str
    """Its standard output and error, interleaved, decoded (invalid UTF-8 replaced)."""

    @property
    def passed(self) -> bool:
        """It exited with status 0."""
        return self.returncode == 0


def minimal_environment(home: Path, tmp: Path) -> dict[str, str]:
    """The environment a gate command gets: ``PATH``, the locale, ``HOME`` and ``TMPDIR``;
    no credential, no ``ANTHROPIC_*`` or ``CLAUDE_*`` variable, no hook token."""
    env = {k: v for k in _PASSED_ON if (v := os.environ.get(k)) is not None}
    env.setdefault("PATH", os.defpath)
    return {**env, "HOME": str(home), "TMPDIR": str(tmp)}


async def run_on_host(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> CommandResult:
    """Run ``argv`` in ``cwd`` with exactly ``env``, in its own process group.

    Put a deadline around it (``anyio.fail_after``): when it is cancelled, and also when it
    ends, the whole group is killed, so nothing it started in the background is left.
    """
    process = await anyio.open_process(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    tail = bytearray()
    try:
        if process.stdout is not None:
            async for chunk in process.stdout:
                tail += chunk
                del tail[:-OUTPUT_CAP]
        await process.wait()
    finally:
        _kill_group(process.pid)
        with anyio.CancelScope(shield=True):
            await process.aclose()
    return CommandResult(
        returncode=process.returncode, output=bytes(tail).decode("utf-8", "replace")
    )


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, 9)
    except ProcessLookupError:
        return


async def run_local(argv: Sequence[str], *, cwd: Path) -> CommandResult:
    """The ``local`` runtime's way: on the host, a fresh ``HOME`` and ``TMPDIR`` (removed
    after) and the :func:`minimal_environment`."""
    with tempfile.TemporaryDirectory(prefix="orchestra-gate-") as scratch:
        env = minimal_environment(Path(scratch), Path(scratch))
        return await run_on_host(argv, cwd=cwd, env=env)
