"""What a run needs on this machine, found and checked: ``claude-orchestra doctor``'s checks.

The pinned Claude Code (:data:`CLAUDE_CODE_VERSION`: the screen fallbacks match its
wording) is looked for, in order, as:

1. ``claudeCommand`` in ``orchestrator.json``, else ``CLAUDE_ORCHESTRA_CLAUDE``: the user
   insists, so another version is used with a warning;
2. a source checkout's ``tools/node_modules/.bin/claude`` (``make setup`` puts it there);
3. the per-user cache, ``<cache>/claude-orchestra/claude-code-<version>`` (``doctor --fix``
   and ``demo`` install it there with npm);
4. ``claude`` on PATH, used only when it *is* the pinned version: another one is refused
   with one line naming the fix (``claude-orchestra doctor --fix``), which installs the
   pinned one into the cache, where it is found first from then on.

Each check is a :class:`Check`: a name, whether it passed, what was found, and one line
with the fix for this platform. Run and validate refuse to start while any required check
fails, so a run never starts half-ready.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import final

import attrs

from claude_orchestra.auth.rotator import AuthMode, discover_oauth
from claude_orchestra.config import RunConfig
from claude_orchestra.errors import PrerequisiteError
from claude_orchestra.machine import Machine, install_line
from claude_orchestra.pins import CLAUDE_CODE_VERSION

CLAUDE_CODE_PACKAGE = "@anthropic-ai/claude-code"
"""The npm package of the Claude Code CLI."""
NODE_MINIMUM = (22, 0)
"""The Node version the pinned package's ``engines`` asks for (``>=22.0.0``)."""

FIX_CLAUDE = "claude-orchestra doctor --fix"


class Severity(enum.Enum):
    """How much a failed check matters."""

    OK = "ok"
    WARNING = "warning"
    """Reported; a run still starts."""
    PROBLEM = "problem"
    """A run refuses to start (exit 2)."""


@final
@attrs.frozen(kw_only=True)
class Check:
    """One prerequisite's result: ``found`` says what is there, ``fix`` how to mend it."""

    name: str
    severity: Severity
    found: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        """True unless a run must refuse to start."""
        return self.severity is not Severity.PROBLEM

    def line(self) -> str:
        """``name: found; fix: ...`` on one line."""
        return f"{self.name}: {self.found}" + (f"; fix: {self.fix}" if self.fix else "")

    def as_json(self) -> dict[str, str | None]:
        """The check as a JSON object."""
        return {
            "name": self.name,
            "status": self.severity.value,
            "found": self.found,
            "fix": self.fix,
        }


def cache_dir(machine: Machine, version: str = CLAUDE_CODE_VERSION) -> Path:
    """Where ``doctor --fix`` installs Claude Code ``version`` for this user."""
    return machine.cache_root / "claude-orchestra" / f"claude-code-{version}"


def claude_version(path: str, machine: Machine) -> str | None:
    """``X.Y.Z`` from ``path --version`` (``2.1.328 (Claude Code)``), or None."""
    out = machine.output([path, "--version"])
    match = re.match(r"\s*(\d+\.\d+\.\d+)", out or "")
    return match.group(1) if match else None


@final
@attrs.frozen(kw_only=True)
class ClaudeFound:
    """The claude executable a run would use, and how it was chosen."""

    path: str
    version: str | None
    source: str
    """``claudeCommand``, ``CLAUDE_ORCHESTRA_CLAUDE``, ``tools``, ``cache`` or ``PATH``."""


def _candidates(machine: Machine) -> Iterable[tuple[str, Path]]:
    for checkout in machine.checkouts:
        yield "tools", checkout / "tools/node_modules/.bin/claude"
    yield "cache", cache_dir(machine) / "node_modules/.bin/claude"


def locate_claude(configured: str | None, machine: Machine) -> ClaudeFound:
    """The claude a run would use, found as the module docstring says.

    Raises:
        PrerequisiteError: none, or only another version on PATH, is found.
    """
    chosen = configured or machine.environ.get("CLAUDE_ORCHESTRA_CLAUDE")
    if chosen:
        found = machine.which(chosen)
        if found is None:
            raise PrerequisiteError("claude", f"not found: {chosen}")
        source = "claudeCommand" if configured else "CLAUDE_ORCHESTRA_CLAUDE"
        return ClaudeFound(path=found, version=claude_version(found, machine), source=source)
    for source, candidate in _candidates(machine):
        if found := machine.which(str(candidate)):
            return ClaudeFound(path=found, version=claude_version(found, machine), source=source)
    on_path = machine.which("claude")
    if on_path is None:
        raise PrerequisiteError(
            "claude", f"Claude Code {CLAUDE_CODE_VERSION} is not installed; fix: {FIX_CLAUDE}"
        )
    version = claude_version(on_path, machine)
    if version != CLAUDE_CODE_VERSION:
        raise PrerequisiteError(
            "claude",
            f"{on_path} is version {version or 'unknown'}, not the pinned "
            f"{CLAUDE_CODE_VERSION}; fix: {FIX_CLAUDE} (installs the pinned one, used ahead "
            "of PATH), or set claudeCommand to insist on this one",
        )
    return ClaudeFound(path=on_path, version=version, source="PATH")


def find_claude(
    configured: str | None, environ: Mapping[str, str], *, machine: Machine | None = None
) -> str:
    """The path of the claude executable a run uses (see :func:`locate_claude`).

    Raises:
        PrerequisiteError: none usable is found.
    """
    return locate_claude(configured, machine or Machine.current(environ)).path


def check_tools(machine: Machine | None = None) -> None:
    """tmux and git must be on PATH.

    Raises:
        PrerequisiteError: one is missing (with the install line for this platform).
    """
    machine = machine or Machine.current()
    for tool in ("tmux", "git"):
        if machine.which(tool) is None:
            raise PrerequisiteError(
                tool, f"not found on PATH; fix: {install_line(tool, machine.platform)}"
            )


def check_claude(configured: str | None, machine: Machine) -> Check:
    """The pinned Claude Code: found, and its version."""
    try:
        found = locate_claude(configured, machine)
    except PrerequisiteError as exc:
        found_text, _, fix = exc.reason.partition("; fix: ")
        return Check(name="claude", severity=Severity.PROBLEM, found=found_text, fix=fix or None)
    text = f"{found.version or 'unknown version'} at {found.path} ({found.source})"
    if found.version != CLAUDE_CODE_VERSION:
        return Check(
            name="claude",
            severity=Severity.WARNING,
            found=f"{text}, not the pinned {CLAUDE_CODE_VERSION}",
            fix=f"unset {found.source} to use the pinned one ({FIX_CLAUDE} installs it)",
        )
    return Check(name="claude", severity=Severity.OK, found=text)


def _node_version(text: str | None) -> tuple[int, int] | None:
    match = re.match(r"\s*v?(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_node(machine: Machine, *, needed: bool) -> list[Check]:
    """Node and npm, which install Claude Code: a problem only when it must be installed."""
    missing = Severity.PROBLEM if needed else Severity.WARNING
    checks = []
    node = machine.which("node")
    version = _node_version(machine.output([node, "--version"]) if node else None)
    minimum = ".".join(map(str, NODE_MINIMUM))
    if node is None:
        checks.append(
            Check(
                name="node",
                severity=missing,
                found="not found (needed to install Claude Code)",
                fix=install_line("node", machine.platform),
            )
        )
    elif version is None or version < NODE_MINIMUM:
        shown = ".".join(map(str, version)) if version else "unknown"
        checks.append(
            Check(
                name="node",
                severity=Severity.WARNING,
                found=f"{shown} at {node}, older than Claude Code's engines (>= {minimum})",
                fix=f"install Node {minimum} or newer (nodejs.org, nvm, or your package manager)",
            )
        )
    else:
        checks.append(Check(name="node", severity=Severity.OK, found=f"{version[0]}.{version[1]}"))
    npm = machine.which("npm")
    checks.append(
        Check(name="npm", severity=Severity.OK, found=npm)
        if npm
        else Check(
            name="npm",
            severity=missing,
            found="not found (needed to install Claude Code)",
            fix=install_line("npm", machine.platform),
        )
    )
    return checks


def check_tool(tool: str, machine: Machine, *, purpose: str = "") -> Check:
    """``tool`` on PATH, with the install line for this platform when it is not."""
    found = machine.which(tool)
    if found:
        return Check(name=tool, severity=Severity.OK, found=found)
    return Check(
        name=tool,
        severity=Severity.PROBLEM,
        found="not found on PATH" + (f" ({purpose})" if purpose else ""),
        fix=install_line(tool, machine.platform),
    )


def check_runtime(runtime: str, machine: Machine) -> list[Check]:
    """What the runtime adds: bubblewrap for ``sandbox``, an engine for ``container``."""
    if runtime == "sandbox":
        return [check_tool("bwrap", machine, purpose="the sandbox runtime")]
    if runtime == "container":
        engines = [e for e in ("docker", "podman") if machine.which(e)]
        if engines:
            return [Check(name="container", severity=Severity.OK, found=", ".join(engines))]
        return [
            Check(
                name="container",
                severity=Severity.PROBLEM,
                found="neither docker nor podman is on PATH (the container runtime)",
                fix="install Docker or Podman, or use the local or sandbox runtime",
            )
        ]
    return []


def check_login(config: RunConfig | None, machine: Machine) -> Check:
    """A credential the instances can use: the Claude login or ``api-keys.json``."""
    keys = len(config.credentials) if config else 0
    mode = config.orchestrator.auth_mode if config else AuthMode.OAUTH
    oauth = (
        None if mode is AuthMode.API_KEYS_ONLY else discover_oauth(machine.environ, machine.home)
    )
    found = [f"{keys} key(s) in api-keys.json"] if keys else []
    if oauth is not None:
        found.insert(0, f"the Claude login ({oauth.source})")
    if found:
        return Check(name="login", severity=Severity.OK, found=", ".join(found))
    if mode is AuthMode.API_KEYS_ONLY:
        return Check(
            name="login",
            severity=Severity.PROBLEM,
            found="authMode is api-keys-only but api-keys.json holds no key",
            fix="add a key to api-keys.json (see docs/reference/configuration.md)",
        )
    where = (
        "the macOS login lives in the Keychain, which the instances cannot read"
        if machine.platform == "macos"
        else "no CLAUDE_CODE_OAUTH_TOKEN, no ~/.claude/.credentials.json, no api-keys.json key"
    )
    return Check(
        name="login",
        severity=Severity.PROBLEM,
        found=where,
        fix="run `claude setup-token` and export CLAUDE_CODE_OAUTH_TOKEN=<the token>",
    )


def check_all(
    machine: Machine,
    *,
    config: RunConfig | None = None,
    runtime: str | None = None,
    login: bool = True,
    installers: bool = True,
) -> list[Check]:
    """Every check a run of ``config`` (or, without one, of ``runtime``) needs.

    Args:
        machine: the machine to check.
        config: the run's config (its ``claudeCommand``, runtime and keys), if any.
        runtime: the runtime to check for when there is no config (default ``local``).
        login: check for a usable login.
        installers: check Node and npm too (what installs Claude Code; a run itself
            does not need them).
    """
    settings = config.orchestrator if config else None
    claude = check_claude(settings.claude_command if settings else None, machine)
    checks = [claude]
    if installers:
        checks += check_node(machine, needed=claude.severity is Severity.PROBLEM)
    checks += [check_tool("tmux", machine), check_tool("git", machine)]
    checks += check_runtime(runtime or (settings.runtime if settings else "local"), machine)
    if login:
        checks.append(check_login(config, machine))
    return checks


def problems(checks: Sequence[Check]) -> list[str]:
    """One line per check that stops a run."""
    return [check.line() for check in checks if not check.ok]
