"""The hosts of a run and which instance runs on which (config ``remoteHosts``).

A host entry names where to connect and how many workers it takes; the workers are
placed in order (``worker-1`` .. on the first host, the next ones on the second, ...). The
manager always runs on this machine. All pure: no connection is made here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, final

import attrs

from claude_orchestra.workers import worker_name


def _host_name(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", value):
        raise ValueError(f"must be a short lowercase name (a-z, 0-9, -, _), got {value!r}")


def _address(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9.:_-]+", value):
        raise ValueError(f"must be a host name or an IP address, got {value!r}")


def _user(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not re.fullmatch(r"[a-z_][a-z0-9_.-]*\$?", value):
        raise ValueError(f"must be a user name, got {value!r}")


def _between(low: int, high: int) -> Any:
    def check(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")

    return check


def _plain(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (not value.strip() or not value.isprintable()):
        raise ValueError("must be non-empty, without control characters")


@final
@attrs.frozen(kw_only=True)
class RemoteHost:
    """One entry of ``remoteHosts``: a host reached over SSH and the workers it runs."""

    name: str = attrs.field(validator=_host_name)
    """What the run calls the host (in logs, incidents and ``status``)."""
    address: str = attrs.field(validator=_address)
    """Host name or IP address to connect to."""
    workers: int = attrs.field(validator=_between(1, 20))
    """How many workers run there."""
    port: int = attrs.field(default=22, validator=_between(1, 65535))
    user: str | None = attrs.field(default=None, validator=_user)
    """The login (default: the local user's name)."""
    identity_file: str | None = attrs.field(default=None, validator=_plain)
    """The private key to log in with (default: the SSH agent and ``~/.ssh/id_*``)."""
    known_hosts: str | None = attrs.field(default=None, validator=_plain)
    """The known-hosts file that must name the host's key (default ``~/.ssh/known_hosts``);
    an unknown host key is refused, never accepted."""
    workdir: str = attrs.field(default="claude-orchestra", validator=_plain)
    """The folder on the host that holds each run's clone, worktrees and homes (relative to
    the login's home, or absolute)."""
    claude_command: str = attrs.field(default="claude", validator=_plain)
    """The pinned Claude Code on the host (checked with ``--version`` before a launch)."""
    python: str = attrs.field(default="python3", validator=_plain)
    """The Python 3 on the host that runs the relay (standard library only)."""
    credentials_on_disk: bool = False
    """Allow a credential that only exists as a file (a Claude login's
    ``.credentials.json``) to be written into the instance's home on the host. Off:
    credentials reach the host only through the SSH channel, into the process's memory."""


def ssh_argv(host: RemoteHost, *, tty: bool = False) -> list[str]:
    """The OpenSSH client command reaching ``host`` (a person's terminal: ``attach``,
    ``watch``), with its key and known hosts; the remote command goes after it."""
    argv = ["ssh", *(["-t"] if tty else []), "-p", str(host.port)]
    if host.identity_file:
        argv += ["-i", host.identity_file]
    if host.known_hosts:
        argv += ["-o", f"UserKnownHostsFile={host.known_hosts}"]
    argv += ["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]
    return [*argv, f"{host.user}@{host.address}" if host.user else host.address]


def placement(hosts: Sequence[RemoteHost]) -> Mapping[str, RemoteHost]:
    """Instance name -> its host: the workers in order, each host taking its ``workers``."""
    placed: dict[str, RemoteHost] = {}
    for host in hosts:
        for _ in range(host.workers):
            placed[worker_name(len(placed) + 1)] = host
    return placed


_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:.+$")


def reachable_from_a_host(url: str) -> bool:
    """Whether another host can clone ``url`` (a URL or ``user@host:path``, not a path or
    ``file://`` on this machine; an ``http://127.0.0.1`` one is forwarded)."""
    if _SCP_LIKE.match(url):
        return True
    return "://" in url and not url.startswith("file://")


def hosts_problems(
    runtime: str, hosts: Sequence[RemoteHost], worker_count: int, repository_url: str = ""
) -> list[str]:
    """What is wrong with ``remoteHosts`` for this ``runtime``, ``workerCount`` and
    ``repositoryUrl`` (one line each, named as in the file)."""
    if runtime != "remote":
        return ['remoteHosts: only used with "runtime": "remote"'] if hosts else []
    if not hosts:
        return ['remoteHosts: required with "runtime": "remote" (at least one host)']
    problems = []
    if repository_url and not reachable_from_a_host(repository_url):
        problems.append(
            'repositoryUrl: with "runtime": "remote" it must be a URL the hosts can reach '
            "(https, ssh, or http on 127.0.0.1, which is forwarded), not a local path"
        )
    names = [h.name for h in hosts]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"remoteHosts: the name {name!r} is used twice")
    total = sum(h.workers for h in hosts)
    if total != worker_count:
        problems.append(
            f"remoteHosts: the hosts' workers add up to {total}, but workerCount is {worker_count}"
        )
    return problems
