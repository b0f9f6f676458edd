"""``claude-orchestra init [--repo DIR] CONFIG_DIR``: a config folder to edit, not to type.

Writes ``orchestrator.json`` with the main keys (JSON holds no comments, so a
``README.md`` beside it explains each), an empty ``api-keys.json`` (mode 0600) to add keys
to, and, when the repository has none, a ``PROJECT_DIRECTION.md`` skeleton in it (not
committed: the run reads it from origin, so commit and push it yourself).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click

from claude_orchestra import UsageError
from claude_orchestra.cli._output import Folder
from claude_orchestra.machine import Machine

_SANDBOX_NOTE = {
    "sandbox": "each instance runs inside bubblewrap: it can write only its own worktree",
    "local": "bubblewrap is not installed here, so instances run unconfined (see the guide)",
}

PROJECT_DIRECTION = """\
# Project direction

<!-- The manager reads this file from origin's run branch and splits it into tasks for the
workers. Say what to build, in pieces that can be done in parallel, and how to check it.
Commit and push it to the run branch before `claude-orchestra run`. -->

Add a `CONTRIBUTING.md` for this repository. Build these pieces:

- Write `CONTRIBUTING.md` explaining how to set up, test and submit a change
- Add a `docs/architecture.md` with an overview of the main modules

Keep each piece in its own file so the work can be done in parallel. Do not change
existing code.
"""


def _git(repo: Path, *args: str) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def settings_for(repo: Path, runtime: str) -> dict[str, object]:
    """``orchestrator.json`` for ``repo``: its origin (else itself) and current branch."""
    url = _git(repo, "remote", "get-url", "origin") or str(repo.resolve())
    branch = _git(repo, "symbolic-ref", "--short", "HEAD") or "main"
    return {
        "repositoryUrl": url,
        "branch": branch,
        "workerCount": 2,
        "maxRunDurationMinutes": 60,
        "hookServerPort": 0,
        "authMode": "oauth",
        "runtime": runtime,
        "scheduler": "manager",
        "merger": "manager",
        "budget": {"usd": 10, "warnAt": [0.5, 0.8]},
    }


def readme(settings: dict[str, object]) -> str:
    """The README.md that explains the folder's files, key by key."""
    runtime = str(settings["runtime"])
    return f"""\
# claude-orchestra config

Written by `claude-orchestra init`. Check it with `claude-orchestra validate --config
<this folder>`; run it with `claude-orchestra run --config <this folder>`. Every key is in
the configuration reference (docs/reference/configuration.md); the guide for a first run on
your own repository is docs/tutorials/first-real-run.md.

## orchestrator.json

- `repositoryUrl` (`{settings["repositoryUrl"]}`): the repository the run clones.
  **Merges are pushed to it.**
- `branch` (`{settings["branch"]}`): the run branch: workers start from it, merges land
  on it, and it is pushed. Use a scratch branch for a first run: `git switch -c
  orchestra/try-1 && git push -u origin orchestra/try-1`, then put its name here.
- `workerCount` (2): workers, each in its own worktree on branch `worker-N` (1-20).
- `maxRunDurationMinutes` (60): then the run stops gracefully (exit 3), work pushed.
- `hookServerPort` (0): the hook app's port on 127.0.0.1; 0 picks a free one.
- `authMode` (`oauth`): your Claude login first, then the keys in api-keys.json.
- `runtime` (`{runtime}`): {_SANDBOX_NOTE.get(runtime, "")}. Every instance runs with
  `--dangerously-skip-permissions`.
- `scheduler`, `merger` (`manager`): the manager plans the tasks and merges the
  workers' branches.
- `budget` (`usd` 10, warnings at 50 % and 80 %): the run stops gracefully (exit 4) once
  it has spent this much.

Unknown keys are errors, so a typo never passes silently.

## api-keys.json

Optional API keys the instances rotate to when a credential is rate limited; empty here.
Keep it readable by you only (mode 0600). Entries look like
`{{"name": "console-key", "apiKey": "sk-ant-..."}}`.
"""


@click.command(
    "init",
    short_help="Write a config folder for a repository.",
    epilog="""\b
Examples:
  claude-orchestra init ./config                 # for the repository in this folder
  claude-orchestra init --repo ~/src/app ~/orchestra/app-config
""",
)
@click.option(
    "--repo",
    type=Folder(exists=True),
    default=Path(),
    show_default="this folder",
    help="The git repository the config is for.",
)
@click.argument("config_dir", type=Folder())
def command(repo: Path, config_dir: Path) -> int:
    """Write a config folder for a repository, ready to edit and validate.

    orchestrator.json (the main keys, explained in a README.md beside it), an empty
    api-keys.json (mode 0600), and a PROJECT_DIRECTION.md skeleton in the repository when
    it has none (not committed).
    """
    if _git(repo, "rev-parse", "--git-dir") is None:
        raise UsageError("--repo", f"{repo} is not a git repository")
    if config_dir.exists() and any(config_dir.iterdir()):
        raise UsageError("CONFIG_DIR", f"{config_dir} is not empty")
    runtime = "sandbox" if Machine.current().which("bwrap") else "local"
    settings = settings_for(repo, runtime)
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "orchestrator.json").write_text(json.dumps(settings, indent=2) + "\n")
    (config_dir / "README.md").write_text(readme(settings))
    keys = config_dir / "api-keys.json"
    keys.touch(mode=0o600)
    keys.chmod(0o600)
    keys.write_text("[]\n")
    print(f"wrote {config_dir}/orchestrator.json, api-keys.json (0600) and README.md")
    top = Path(_git(repo, "rev-parse", "--show-toplevel") or repo)
    direction = top / "PROJECT_DIRECTION.md"
    if not direction.exists():
        direction.write_text(PROJECT_DIRECTION)
        print(f"wrote {direction}: edit it, then commit and push it to the run branch")
    print(f"next: claude-orchestra validate --config {config_dir}")
    return 0
