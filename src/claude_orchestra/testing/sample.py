"""A small target repository for demos and end-to-end tests: a bare ``origin`` to clone.

``create_origin(folder)`` makes ``folder/origin.git`` with one commit on ``main`` holding a
``PROJECT_DIRECTION.md`` whose bullet list is the work (the scripted model turns each bullet
into a task), a README and a ``.gitignore`` that keeps ``.env`` files out of git.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

DEFAULT_TASKS: tuple[str, ...] = (
    "Create `greet.py` with a function that greets a person by name",
    "Create `farewell.py` with a function that says goodbye",
    "Create `docs/usage.md` explaining how to use both modules",
    "Create `shout.py` with a function that upper-cases a greeting",
)

_IDENTITY = {
    "GIT_AUTHOR_NAME": "sample",
    "GIT_AUTHOR_EMAIL": "sample@claude-orchestra.invalid",
    "GIT_COMMITTER_NAME": "sample",
    "GIT_COMMITTER_EMAIL": "sample@claude-orchestra.invalid",
}


def project_direction(tasks: Sequence[str]) -> str:
    """The ``PROJECT_DIRECTION.md`` text for ``tasks``."""
    bullets = "\n".join(f"- {task}" for task in tasks)
    return (
        "# Project direction\n\n"
        "A tiny Python toolkit of greetings. Build these pieces:\n\n"
        f"{bullets}\n\n"
        "Keep each piece in its own file so the work can be done in parallel.\n"
    )


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={**os.environ, **_IDENTITY},
    )


def create_origin(
    folder: Path,
    *,
    tasks: Sequence[str] = DEFAULT_TASKS,
    branch: str = "main",
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Make ``folder/origin.git``, a bare repository with one commit on ``branch``.

    Returns:
        The bare repository's path (use it as ``repositoryUrl``).
    """
    origin = folder / "origin.git"
    origin.parent.mkdir(parents=True, exist_ok=True)
    _git("init", "-q", "--bare", f"--initial-branch={branch}", str(origin), cwd=folder)
    with tempfile.TemporaryDirectory(prefix="sample-") as scratch:
        work = Path(scratch)
        _git("clone", "-q", str(origin), str(work), cwd=folder)
        files = {
            "PROJECT_DIRECTION.md": project_direction(tasks),
            "README.md": "# Greetings\n\nBuilt by a team of Claude Code instances.\n",
            ".gitignore": ".env\n.env.local\n__pycache__/\n",
            **dict(extra_files or {}),
        }
        for name, text in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text, encoding="utf-8")
        _git("checkout", "-q", "-b", branch, cwd=work)
        _git("add", "-A", cwd=work)
        _git("commit", "-q", "-m", "Project direction", cwd=work)
        _git("push", "-q", "origin", f"HEAD:{branch}", cwd=work)
    return origin


def write_config_folder(
    folder: Path,
    *,
    origin: Path,
    base_url: str,
    key: str,
    workspace: Path,
    workers: int = 2,
    minutes: float = 10,
    extra: Mapping[str, object] | None = None,
) -> Path:
    """A config folder running ``workers`` workers on ``origin`` against a fake API.

    ``orchestrator.json`` picks a free hook port; ``api-keys.json`` holds one ``env`` entry
    named ``fake-api`` with ``key`` and ``base_url`` (mode 0600).
    """
    folder.mkdir(parents=True)
    settings = {
        "repositoryUrl": str(origin),
        "branch": "main",
        "workerCount": workers,
        "hookServerPort": 0,
        "maxRunDurationMinutes": minutes,
        "authMode": "api-keys-only",
        "workspaceDir": str(workspace),
        **dict(extra or {}),
    }
    (folder / "orchestrator.json").write_text(json.dumps(settings, indent=2) + "\n")
    keys = folder / "api-keys.json"
    keys.write_text(
        json.dumps(
            [
                {
                    "name": "fake-api",
                    "env": {"ANTHROPIC_API_KEY": key, "ANTHROPIC_BASE_URL": base_url},
                    "source": "claude_orchestra.testing.fake_api",
                }
            ],
            indent=2,
        )
        + "\n"
    )
    keys.chmod(0o600)
    return folder
