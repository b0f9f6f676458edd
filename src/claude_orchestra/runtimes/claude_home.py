"""An instance's private Claude Code home and the command line that starts it.

Each instance gets its own ``CLAUDE_CONFIG_DIR`` under ``<workspace>/.orchestra/instances/``
(outside every git tree), seeded so the interactive TUI starts with no dialog: onboarding
done, bypass mode accepted, the API key approved by its last 20 characters, and the
instance's working directory trusted. The orchestrator's hooks go in a separate
``--settings`` file in the same folder, so nothing is written into a worktree and the user's
own settings are never touched. The credential reaches the process through its environment
only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, final

import attrs

from claude_orchestra import strict_json
from claude_orchestra._safe_files import (
    read_capped,
    reclaim_file,
    reclaim_folder,
    write_private,
)
from claude_orchestra.auth.credentials import Credential
from claude_orchestra.intake import relay as _relay

logger = logging.getLogger(__name__)

HOOK_TOKEN_ENV = _relay.HOOK_TOKEN_ENV
"""The variable through which the hooks (HTTP ones by ``allowedEnvVars``, the relay by its
environment) read the token of the process's launch."""

_HTTP_HOOKS = (
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "StopFailure",
    "Notification",
    "SessionEnd",
)

#: Variables an instance must never inherit from the orchestrator's own environment.
SCRUBBED_ENV = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CONFIG_DIR",
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
)


@final
@attrs.frozen(kw_only=True)
class HookEndpoint:
    """Where an instance's hooks report: the hook app's URLs for each instance's launch."""

    base_url: str
    """``http://127.0.0.1:<port>``"""

    def hook_url(self, instance: str, launch: int) -> str:
        """The URL the hooks of an instance's ``launch``-th process POST to.

        The launch number picks the token the request must carry, and tells a restarted
        instance's events from the late events of the process it replaced.
        """
        return f"{self.base_url}/hooks/{instance}/{launch}"

    def pane_died_url(self, instance: str, launch: int) -> str:
        """The URL the exit of an instance's ``launch``-th process is reported to."""
        return f"{self.base_url}/panes/{instance}/{launch}/died"


def relay_command(*args: str) -> list[str]:
    """The argv that runs the stdlib-only relay with this Python."""
    return [sys.executable, "-I", "-S", str(Path(_relay.__file__)), *args]


def hook_settings(instance: str, launch: int, endpoint: HookEndpoint) -> dict[str, Any]:
    """The ``--settings`` document that subscribes the orchestrator to an instance's hooks,
    its spinner still (``prefersReducedMotion``).

    An animated spinner redraws the screen many times a second for as long as the model
    thinks, and with a fleet those redraws are much of Claude Code's CPU: at 16 workers on
    2 cores, ``bench/throughput.py --latency`` (2 rounds) ran 52.8 tasks a minute with the
    spinner still against 47.7 animated (1.57 cores busy against 1.62). The
    spinner's line keeps its elapsed time and streamed-token count, which the progress
    probe reads (:mod:`claude_orchestra.screen`).
    """
    url = endpoint.hook_url(instance, launch)
    http = {
        "type": "http",
        "url": url,
        "headers": {"Authorization": f"Bearer ${HOOK_TOKEN_ENV}"},
        "allowedEnvVars": [HOOK_TOKEN_ENV],
        "timeout": 10,
    }
    # SessionStart runs no HTTP hooks (claude-code-facts §3): a command relays it, with
    # the token from its environment (command hooks inherit claude's).
    session_start = {
        "type": "command",
        "command": " ".join(_shell_quote(a) for a in relay_command("hook", url)),
        "timeout": 10,
    }
    hooks: dict[str, Any] = {"SessionStart": [{"hooks": [session_start]}]}
    for name in _HTTP_HOOKS:
        hooks[name] = [{"hooks": [http]}]
    return {"hooks": hooks, "prefersReducedMotion": True}


def _shell_quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\"'\"'") + "'"


@final
@attrs.frozen(kw_only=True)
class LaunchSpec:
    """Everything needed to start one interactive Claude Code process."""

    command: tuple[str, ...]
    """The instance's own process: ``claude`` and its arguments (a runtime may wrap it)."""
    cwd: Path
    env: Mapping[str, str] = attrs.field(repr=False)
    """The variables to set (credential values included: never log this)."""
    supervisor: tuple[str, ...] = ()
    """What runs in the pane around :attr:`command` (the relay that reports its exit)."""
    env_file: Path | None = None
    """Where the runtime writes :attr:`env` for the supervisor to read (and delete), so no
    value travels on a command line or through tmux; ``None``: pass it to tmux."""

    @property
    def argv(self) -> tuple[str, ...]:
        """The pane's whole command line: the supervisor, then the command."""
        return (*self.supervisor, *self.command)

    @property
    def config_dir(self) -> Path:
        """The instance's ``CLAUDE_CONFIG_DIR``."""
        return Path(self.env["CLAUDE_CONFIG_DIR"])

    def env_names(self) -> tuple[str, ...]:
        """The variable names, safe to log."""
        return tuple(sorted(self.env))


@final
@attrs.frozen(kw_only=True)
class ClaudeHome:
    """One instance's private Claude Code config dir and settings file.

    Everything under ``path.parent`` is the instance's to write (in the ``sandbox`` runtime
    too): files the orchestrator writes there are replaced, never followed
    (:mod:`claude_orchestra._safe_files`), and files it reads there are read with a cap.
    What the instance must never change (its launch environment) goes in :attr:`host_dir`.
    """

    path: Path
    """The ``CLAUDE_CONFIG_DIR``."""
    host_dir: Path
    """A folder only the orchestrator and the relay outside the instance see."""

    @property
    def settings_file(self) -> Path:
        """The orchestrator's ``--settings`` file (hooks), beside the config dir."""
        return self.path.parent / "orchestra-settings.json"

    @property
    def projects_dir(self) -> Path:
        """Where Claude Code writes this instance's transcripts."""
        return self.path / "projects"

    def seed(
        self,
        *,
        instance: str,
        launch: int,
        trusted: Sequence[Path],
        credential: Credential,
        endpoint: HookEndpoint,
    ) -> None:
        """Write (or update) the config so the TUI starts with no dialog and with our hooks.

        Safe to call again before a restart: the existing ``.claude.json`` keeps what Claude
        Code wrote into it; only our keys are set.
        """
        # The instance may have planted anything here: folders are reclaimed, files are
        # replaced (never written through), reads are capped.
        reclaim_folder(self.path.parent)
        reclaim_folder(self.path)
        state_file = self.path / ".claude.json"
        for ours in (state_file, self.settings_file, self.path / ".credentials.json"):
            reclaim_file(ours)
        state = _read_state(state_file)
        state["hasCompletedOnboarding"] = True
        state["bypassPermissionsModeAccepted"] = True
        approved = _object(state, "customApiKeyResponses")
        keys = approved.get("approved")
        keys = approved["approved"] = keys if isinstance(keys, list) else []
        approved.setdefault("rejected", [])
        key = credential.api_key
        if key is not None and key.last(20) not in keys:
            keys.append(key.last(20))
        projects = _object(state, "projects")
        for folder in trusted:
            _object(projects, str(folder))["hasTrustDialogAccepted"] = True
        write_private(state_file, json.dumps(state, indent=2))
        user_settings = self.path / "settings.json"
        if not user_settings.is_symlink() and not user_settings.exists():
            write_private(user_settings, json.dumps({"skipDangerousModePermissionPrompt": True}))
        write_private(
            self.settings_file, json.dumps(hook_settings(instance, launch, endpoint), indent=2)
        )
        if credential.oauth_file is not None:
            login = Path(credential.oauth_file).read_text(encoding="utf-8")
            write_private(self.path / ".credentials.json", login)

    def launch_spec(
        self,
        *,
        instance: str,
        launch: int,
        endpoint: HookEndpoint,
        claude: Sequence[str],
        cwd: Path,
        credential: Credential,
        hook_token: str,
        identity: str,
        model: str | None = None,
        resume_session: str | None = None,
        knobs: Mapping[str, str] | None = None,
        nice: int = 0,
    ) -> LaunchSpec:
        """The command line and environment of the interactive process.

        The process in the pane is the relay's ``run`` wrapper, which starts claude and
        reports its exit to the hook app (see :mod:`claude_orchestra.intake.relay`).

        Args:
            instance: the instance's name (for the exit report's URL).
            launch: which launch of the instance this is (for the exit report's URL).
            endpoint: the hook app.
            claude: the claude executable (and any fixed leading arguments).
            cwd: the worktree or clone the instance works in.
            credential: what it authenticates with (environment only).
            hook_token: this launch's hook token (for the hooks and the exit report).
            identity: the git author/committer name for its commits.
            model: ``--model``, when the config sets one.
            resume_session: ``--resume`` this session id (same conversation).
            knobs: Claude Code environment knobs (``CLAUDE_CODE_MAX_RETRIES``, ...).
            nice: run the pane's process (the relay, and claude under it) at this lower
                CPU priority (``nice -n``), so the orchestrator stays ahead of its fleet.
        """
        argv = [
            *claude,
            "--dangerously-skip-permissions",
            "--settings",
            str(self.settings_file),
        ]
        if model:
            argv += ["--model", model]
        if resume_session:
            argv += ["--resume", resume_session]
        env_file = self.host_dir / "launch-env.json"
        supervisor = [
            *(("nice", "-n", str(nice)) if nice else ()),
            *relay_command(
                "run", endpoint.pane_died_url(instance, launch), "--env-file", str(env_file), "--"
            ),
        ]
        env = {
            "CLAUDE_CONFIG_DIR": str(self.path),
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            HOOK_TOKEN_ENV: hook_token,
            "GIT_AUTHOR_NAME": f"{identity} (claude-orchestra)",
            "GIT_COMMITTER_NAME": f"{identity} (claude-orchestra)",
            "GIT_AUTHOR_EMAIL": f"{identity}@claude-orchestra.invalid",
            "GIT_COMMITTER_EMAIL": f"{identity}@claude-orchestra.invalid",
            **dict(knobs or {}),
            **credential.environment(),
        }
        if os.geteuid() == 0:
            env["IS_SANDBOX"] = "1"  # bypass mode refuses to run as root without it
        return LaunchSpec(
            command=tuple(argv),
            cwd=cwd,
            env=env,
            supervisor=tuple(supervisor),
            env_file=env_file,
        )


_MAX_STATE_BYTES = 16 * 1024 * 1024


def _read_state(state_file: Path) -> dict[str, Any]:
    """What Claude Code keeps in ``.claude.json``, or nothing when it is missing, not a
    regular file, too large or not a JSON object (it is rewritten from our keys then)."""
    try:
        loaded = strict_json.loads(read_capped(state_file, _MAX_STATE_BYTES))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning("%s: ignored and rewritten: %s", state_file, exc)
        return {}
    if not isinstance(loaded, dict):
        logger.warning("%s: ignored and rewritten: not a JSON object", state_file)
        return {}
    return loaded


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """``parent[key]``, made a (new, empty) object when it is missing or anything else."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


def write_launch_env(spec: LaunchSpec) -> Mapping[str, str]:
    """Write ``spec.env`` to ``spec.env_file`` (mode 0600) when it names one; returns what
    is left to pass on the command line: nothing then, else ``spec.env``."""
    if spec.env_file is None:
        return spec.env
    write_private(spec.env_file, json.dumps(dict(spec.env)))
    return {}
