"""Fixtures of the runtime tests."""

from __future__ import annotations

import pytest

from claude_orchestra.runtimes.remote.hosts import RemoteHost
from claude_orchestra.testing.ssh_host import SshHost


@pytest.fixture
def remote_host(ssh_host: SshHost) -> RemoteHost:
    """The second host as a ``remoteHosts`` entry with one worker."""
    access = ssh_host.access
    return RemoteHost(
        name="second",
        address=access.address,
        workers=1,
        user=access.user,
        identity_file=str(access.identity_file),
        known_hosts=str(access.known_hosts),
        workdir=str(access.workdir),
        python="/usr/bin/python3",
    )
