"""How the prerequisite checks see this machine: its environment, PATH, platform and home.

Everything :mod:`claude_orchestra.prerequisites` learns about the machine goes through one
:class:`Machine` value, so tests hand the checks a fake one (``which``, ``output`` and
``platform`` as plain callables and strings) instead of patching anything.
"""

from __future__ import annotations

import os
import platform as _platform
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import final

import attrs

_SOURCE_ROOT = Path(__file__).resolve().parents[2]
"""A source checkout's root when installed editable (``src/claude_orchestra``)."""


def _output(command: Sequence[str]) -> str | None:
    """``command``'s standard output, or None when it cannot be run or fails."""
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key: value.strip().strip('"') for key, value in pairs}


def detect_platform(system: str, os_release: Mapping[str, str]) -> str:
    """``macos``, ``apt`` (Debian, Ubuntu and their kin), ``dnf`` (Fedora, RHEL) or
    ``other``, from :func:`platform.system` and ``/etc/os-release``."""
    if system == "Darwin":
        return "macos"
    family = f"{os_release.get('ID', '')} {os_release.get('ID_LIKE', '')}".split()
    if {"debian", "ubuntu"} & set(family):
        return "apt"
    if {"fedora", "rhel", "centos"} & set(family):
        return "dnf"
    return "other"


@final
@attrs.frozen(kw_only=True)
class Machine:
    """The facts the checks read, each replaceable in a test.

    Attributes:
        environ: the environment (``PATH`` is read through ``which``, not here).
        home: the user's home folder.
        checkouts: folders whose ``tools/node_modules`` may hold the pinned Claude Code
            (the working folder, and the source checkout of an editable install).
        platform: ``macos``, ``apt``, ``dnf`` or ``other`` (see :func:`detect_platform`).
        which: finds an executable like :func:`shutil.which`.
        output: runs a command, returns its standard output or None when it failed.
    """

    environ: Mapping[str, str]
    home: Path
    checkouts: tuple[Path, ...]
    platform: str
    which: Callable[[str], str | None]
    output: Callable[[Sequence[str]], str | None]

    @classmethod
    def current(cls, environ: Mapping[str, str] | None = None) -> Machine:
        """This machine, with ``environ`` (default: this process's) as its environment."""
        env = dict(os.environ if environ is None else environ)
        path = env.get("PATH")
        return cls(
            environ=env,
            home=Path.home(),
            checkouts=(Path.cwd(), _SOURCE_ROOT),
            platform=detect_platform(_platform.system(), _os_release()),
            which=lambda name: shutil.which(name, path=path),
            output=_output,
        )

    @property
    def cache_root(self) -> Path:
        """The per-user cache: ``$XDG_CACHE_HOME``, else ``~/Library/Caches`` on macOS,
        else ``~/.cache``."""
        chosen = self.environ.get("XDG_CACHE_HOME")
        if chosen:
            return Path(chosen)
        if self.platform == "macos":
            return self.home / "Library" / "Caches"
        return self.home / ".cache"


_PACKAGES: dict[str, dict[str, str]] = {
    # tool: {platform: package}
    "tmux": {"apt": "tmux", "macos": "tmux", "dnf": "tmux"},
    "git": {"apt": "git", "macos": "git", "dnf": "git"},
    "bwrap": {"apt": "bubblewrap", "dnf": "bubblewrap"},
    "node": {"apt": "nodejs npm", "macos": "node", "dnf": "nodejs npm"},
    "npm": {"apt": "npm", "macos": "node", "dnf": "npm"},
}


def install_line(tool: str, platform: str) -> str:
    """The command that installs ``tool`` on ``platform``, or what to do where there is none."""
    package = _PACKAGES.get(tool, {}).get(platform)
    if package is None and tool == "bwrap":
        return "bubblewrap runs on Linux only: use the local or container runtime here"
    if package is None:
        return f"install {tool} with your system's package manager"
    if platform == "macos":
        return f"brew install {package}"
    if platform == "apt":
        return f"sudo apt-get install {package}"
    return f"sudo dnf install {package}"
