"""The files of an instance's home to copy to its host (read here, blocking: run in a
thread).

The orchestrator seeds every instance's home on this machine (``.claude.json``,
``settings.json`` and the orchestra's ``--settings`` file beside the config dir); the
``remote`` runtime copies them to the host, translated. A credential that only exists as
a login file goes only to a host that allows ``credentialsOnDisk``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from claude_orchestra._safe_files import read_capped
from claude_orchestra.errors import PrerequisiteError
from claude_orchestra.runtimes.claude_home import LaunchSpec
from claude_orchestra.runtimes.remote.hosts import RemoteHost

_MAX_HOME_FILE = 16 * 1024 * 1024


def home_files(spec: LaunchSpec, host: RemoteHost) -> Mapping[PurePosixPath, str]:
    """The files of ``spec``'s home seeded here, by their path here.

    Raises:
        PrerequisiteError: the credential is a login file and ``host`` does not allow it.
    """
    config = Path(spec.config_dir)
    if (config / ".credentials.json").exists() and not host.credentials_on_disk:
        raise PrerequisiteError(
            "remote",
            f"{host.name}: the credential is a login file; allow "
            '"credentialsOnDisk" for this host to write it there, or use an API key',
        )
    names = [".claude.json", "settings.json"]
    if host.credentials_on_disk:
        names.append(".credentials.json")
    files = {
        PurePosixPath(config / n): read_capped(config / n, _MAX_HOME_FILE).decode()
        for n in names
        if (config / n).exists()
    }
    settings = config.parent / "orchestra-settings.json"
    files[PurePosixPath(settings)] = read_capped(settings, _MAX_HOME_FILE).decode()
    return files
