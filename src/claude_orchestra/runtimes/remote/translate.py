"""A local launch, as it runs on a remote host (pure: values in, values out).

The orchestrator prepares every instance as if it ran here: a home under the workspace, a
settings file whose hooks POST to the hook app on ``127.0.0.1``, a credential whose
``ANTHROPIC_BASE_URL`` may be a loopback URL too. On a remote host:

- every path under the local workspace becomes the same path under the host's run folder
  (:class:`PathMap`);
- every loopback URL (``http://127.0.0.1:<port>``, ``http://localhost:<port>``) becomes the
  host's loopback at the port its reverse forward of ``<port>`` listens on
  (:func:`loopback_ports`, :func:`rewrite_urls`): the host reaches this machine's listeners
  only through the SSH connection, never through a public bind;
- the relay and the claude executable are the host's;
- every hook is a command hook of the host's relay, which posts the event through the
  forward and spools it in the run folder while the connection is down
  (:func:`settings_text`).
"""

from __future__ import annotations

import json
import re
import shlex
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, final

import attrs

from claude_orchestra.runtimes.claude_home import LaunchSpec

_LOOPBACK = re.compile(r"\b(https?)://(?:127\.0\.0\.1|localhost):(\d{1,5})\b")


def loopback_ports(texts: Iterable[str]) -> frozenset[int]:
    """Every port a loopback URL in ``texts`` names."""
    return frozenset(int(m.group(2)) for text in texts for m in _LOOPBACK.finditer(text))


def rewrite_urls(text: str, ports: Mapping[int, int]) -> str:
    """``text`` with each loopback URL's port replaced by its forward's (``ports``: local ->
    remote); a port without a forward is a bug of the caller (``KeyError``)."""
    return _LOOPBACK.sub(lambda m: f"{m.group(1)}://127.0.0.1:{ports[int(m.group(2))]}", text)


def git_login(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without a user and password, and them (``None`` when absent)."""
    parts = urllib.parse.urlsplit(url)
    if "://" not in url or (parts.password is None and parts.username is None):
        return url, None, None
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    bare = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return bare, user, password


@final
@attrs.frozen(kw_only=True)
class PathMap:
    """The local workspace and the run's folder on a host."""

    local: PurePosixPath
    remote: PurePosixPath

    def path(self, path: PurePosixPath | str) -> PurePosixPath:
        """``path`` on the host (a path outside the workspace is returned as it is)."""
        path = PurePosixPath(path)
        if path == self.local or path.is_relative_to(self.local):
            return self.remote / path.relative_to(self.local)
        return path

    def text(self, text: str) -> str:
        """``text`` with a leading workspace path mapped (command-line arguments)."""
        prefix = str(self.local)
        if text == prefix or text.startswith(prefix + "/"):
            return str(self.remote) + text[len(prefix) :]
        return text


@final
@attrs.frozen(kw_only=True)
class RemoteLaunch:
    """What runs in the instance's pane on the host, and what the host is sent."""

    command: str
    """The pane's shell command line: the relay (reading the environment from ``fifo``)
    around claude."""
    cwd: PurePosixPath
    env: Mapping[str, str] = attrs.field(repr=False)
    """Written into ``fifo`` over the SSH channel; never on the host's disk."""
    fifo: PurePosixPath


def relay_url(spec: LaunchSpec) -> str:
    """The exit-report URL the local supervisor was given (``relay ... run URL ...``)."""
    try:
        return spec.supervisor[spec.supervisor.index("run") + 1]
    except (ValueError, IndexError):
        raise ValueError(f"not a relay supervisor: {spec.supervisor!r}") from None


def launch_number(spec: LaunchSpec) -> int:
    """Which launch of its instance ``spec`` is (from the exit-report URL,
    ``.../panes/<instance>/<launch>/died``)."""
    match = re.search(r"/panes/[^/]+/(\d+)/died$", relay_url(spec))
    if match is None:
        raise ValueError(f"no launch in {relay_url(spec)!r}")
    return int(match.group(1))


def remote_launch(
    spec: LaunchSpec,
    *,
    paths: PathMap,
    ports: Mapping[int, int],
    claude: str,
    relay: Sequence[str],
    fifo: PurePosixPath,
    extra_env: Mapping[str, str] | None = None,
) -> RemoteLaunch:
    """``spec`` as it runs on the host.

    Args:
        spec: the launch as the orchestrator prepared it for this machine.
        paths: the workspace and the host's run folder.
        ports: local port -> the host's loopback port forwarding to it.
        claude: the claude executable on the host.
        relay: the host's relay command (its Python and ``relay.py``).
        fifo: the named pipe the relay reads the environment from.
        extra_env: variables to add (the git credential helper's).
    """
    env = {k: rewrite_urls(paths.text(v), ports) for k, v in spec.env.items()}
    env.update(extra_env or {})
    args = [claude, *(rewrite_urls(paths.text(a), ports) for a in spec.command[1:])]
    supervisor = [*relay, "run", rewrite_urls(relay_url(spec), ports), "--env-fifo", str(fifo)]
    return RemoteLaunch(
        command=shlex.join([*supervisor, "--", *args]),
        cwd=paths.path(PurePosixPath(spec.cwd)),
        env=env,
        fifo=fifo,
    )


def settings_text(
    text: str,
    *,
    paths: PathMap,
    ports: Mapping[int, int],
    relay: str,
    spool: PurePosixPath,
) -> str:
    """The ``--settings`` file for the host: every hook (HTTP or the ``SessionStart``
    command) a command hook running the host's relay (``relay``: its shell-quoted
    command), which posts through the forward and keeps in ``spool`` what it cannot post
    while the connection is down (see :mod:`claude_orchestra.intake.relay`)."""
    document = json.loads(text)
    for groups in document.get("hooks", {}).values():
        for group in groups:
            group["hooks"] = [
                _host_hook(
                    hook, paths, ports, lambda url: f"{relay} hook {url} --spool {_q(spool)}"
                )
                for hook in group.get("hooks", [])
            ]
    return json.dumps(document)


def hook_url(text: str, ports: Mapping[int, int]) -> str | None:
    """The URL the hooks of the ``--settings`` file ``text`` post to, as the host reaches
    it (``None``: it has no HTTP hook)."""
    for groups in json.loads(text).get("hooks", {}).values():
        for group in groups:
            for hook in group.get("hooks", []):
                if hook.get("type") == "http":
                    return rewrite_urls(str(hook["url"]), ports)
    return None


def _host_hook(
    hook: dict[str, Any],
    paths: PathMap,
    ports: Mapping[int, int],
    relayed: Callable[[str], str],
) -> dict[str, Any]:
    """One hook as it runs on the host: the relay posts (and spools) in its place."""
    timeout = hook.get("timeout", 10)
    if hook.get("type") == "http":
        url = rewrite_urls(str(hook["url"]), ports)
        return {"type": "command", "command": relayed(_q(url)), "timeout": timeout}
    command = str(hook.get("command", ""))
    if hook.get("type") == "command" and _is_relay_hook(command):
        url = rewrite_urls(shlex.split(command)[-1], ports)
        return {"type": "command", "command": relayed(_q(url)), "timeout": timeout}
    return _walk(hook, lambda s: paths.text(rewrite_urls(s, ports)))  # type: ignore[no-any-return]


def _is_relay_hook(command: str) -> bool:
    """``command`` is the ``SessionStart`` relay hook (``python -I -S relay.py hook URL``)."""
    words = shlex.split(command)
    return len(words) >= 5 and words[1:3] == ["-I", "-S"] and words[-2] == "hook"


def _q(value: str | PurePosixPath) -> str:
    return shlex.quote(str(value))


def state_text(text: str, *, paths: PathMap) -> str:
    """``.claude.json`` for the host: the trusted folders are the host's."""
    document = json.loads(text)
    projects = document.get("projects")
    if isinstance(projects, dict):
        document["projects"] = {str(paths.path(k)): v for k, v in projects.items()}
    return json.dumps(document, indent=2)


def _walk(value: Any, fix: Any) -> Any:
    if isinstance(value, str):
        return fix(value)
    if isinstance(value, list):
        return [_walk(v, fix) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, fix) for k, v in value.items()}
    return value
