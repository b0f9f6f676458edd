"""The ``container`` runtime: each instance's process in its own container (Docker or Podman).

The pane still belongs to the run's tmux server, and its supervisor (the relay) still runs
on the host; the instance's own command becomes ``<engine> run -it ...`` of an image that
holds Claude Code (``docker/Dockerfile``). The container:

- bind-mounts the instance's worktree (the manager: the clone), its home, the git
  metadata its commits need, a local origin, the hook secret's file (read-only) and the
  relay with its Python (read-only, for the ``SessionStart`` hook command), each **at the
  same path as on the host**, so git's worktree links and the settings file's paths resolve;
- sees nothing else of the host's filesystem: no other instance's home, no
  ``api-keys.json``, no ``~/.claude``;
- shares the host's network (``--network host``) so the hook app and the API on loopback
  are reachable;
- gets every variable as ``-e NAME`` **without a value**: the engine takes the value from
  its own environment, which the relay filled from the private launch file, so no secret
  is on a command line;
- runs as the host user (files in the worktree stay the user's), with ``--init`` so
  signals reach ``claude``, labelled with the run so :meth:`ContainerRuntime.close` can
  remove every container of the run.

Nothing here needs an engine to be tested: :meth:`ContainerPolicy.wrap` is pure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import final

import anyio
import attrs

from claude_orchestra.errors import PrerequisiteError
from claude_orchestra.intake import relay as _relay
from claude_orchestra.runtimes.base import Runtime, RuntimeContext, WrappingRuntime
from claude_orchestra.runtimes.claude_home import LaunchSpec
from claude_orchestra.runtimes.gate import minimal_environment
from claude_orchestra.runtimes.sandbox import GitMounts, git_mounts
from claude_orchestra.workspace import Workspace

DEFAULT_IMAGE = "claude-orchestra:latest"
"""The image ``docker build -t claude-orchestra -f docker/Dockerfile .`` makes."""
ENGINES = ("docker", "podman")
RUN_LABEL = "io.claude-orchestra.run"


def find_engine(preferred: str | None = None) -> str:
    """The container engine's executable: ``preferred``, else docker, else podman.

    Raises:
        PrerequisiteError: none is installed.
    """
    for name in (preferred,) if preferred else ENGINES:
        found = shutil.which(name)
        if found:
            return found
    wanted = preferred or " or ".join(ENGINES)
    raise PrerequisiteError(
        "container", f"the container runtime needs {wanted} (its command-line client)"
    )


def engine_problem(engine: str) -> str | None:
    """Why ``engine`` cannot run containers here (``None``: it can). Blocking."""
    try:
        done = subprocess.run(
            [engine, "info", "--format", "{{json .}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{engine} info: {exc}"
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return f"{engine} info: {lines[-1] if lines else f'exit {done.returncode}'}"
    return None


def _python_paths() -> tuple[Path, ...]:
    """What the relay's ``python -I -S`` needs inside: the interpreter and its stdlib."""
    paths = {Path(sys.base_prefix), Path(sys.executable).parent}
    return tuple(sorted(paths))


@final
@attrs.frozen(kw_only=True)
class ContainerPolicy:
    """How every instance's container is made; turns a command into ``<engine> run``."""

    engine: str
    image: str = DEFAULT_IMAGE
    run: str
    """The run's id (its tmux socket name), in every container's name and label."""
    readable: tuple[Path, ...] = ()
    """Mounted read-only when they exist (the git credentials of an https origin, the relay,
    its Python)."""
    writable: tuple[Path, ...] = ()
    """Mounted writable for every instance (a local origin)."""
    clone: Path | None = None
    """The run's main clone: where every instance's git metadata is (``None``: none)."""
    user: str = attrs.field(factory=lambda: f"{os.getuid()}:{os.getgid()}")

    @classmethod
    def for_run(
        cls, context: RuntimeContext, *, engine: str | None = None, image: str = DEFAULT_IMAGE
    ) -> ContainerPolicy:
        """The policy for a run.

        Raises:
            PrerequisiteError: no container engine's client is installed.
        """
        return cls(
            engine=find_engine(engine),
            image=image,
            run=context.socket_name,
            readable=(
                context.workspace / ".orchestra" / "git-credentials",  # pushes over https
                Path(_relay.__file__),
                *_python_paths(),
            ),
            writable=(context.local_origin,) if context.local_origin else (),
            clone=Workspace(context.workspace).repo,
        )

    def container_name(self, instance: str) -> str:
        """The container of ``instance`` in this run."""
        return f"{self.run}-{instance}"

    def wrap(self, spec: LaunchSpec, instance: str) -> LaunchSpec:
        """``spec`` with its command run in a container of the image (``claude`` from the
        image's ``PATH``)."""
        home = spec.config_dir.parent
        tmp = home / "tmp"
        tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = {**spec.env, "TMPDIR": str(tmp), "HOME": str(home)}
        args = [
            self.engine, "run", "--rm", "--interactive", "--tty", "--init",
            "--name", self.container_name(instance),
            "--label", f"{RUN_LABEL}={self.run}",
            "--network", "host",
            "--user", self.user,
            "--workdir", str(spec.cwd),
        ]  # fmt: skip
        git = git_mounts(self.clone, spec.cwd) if self.clone else GitMounts()
        writable = (spec.cwd, home, *git.writable, *self.writable)
        args += _mounts(writable, read_only=False)
        # Nested read-only mounts (the engine mounts parents first): a worker's .git file,
        # its commondir and gitdir; the clone's config, hooks and the workers' git dirs.
        args += _mounts([p for p in git.read_only if p.exists()], read_only=True)
        args += _mounts([p for p in self.readable if p.exists()], read_only=True)
        for name in sorted(env):
            args += ["--env", name]  # the value comes from the engine's own environment
        args += [self.image, "claude", *spec.command[1:]]
        return attrs.evolve(spec, command=tuple(args), env=env)

    def wrap_command(
        self, argv: Sequence[str], cwd: Path, scratch: Path
    ) -> tuple[list[str], dict[str, str]]:
        """``argv`` in a fresh container of the image, with ``cwd`` and ``scratch`` the only
        host folders mounted, and a minimal environment named without values."""
        env = minimal_environment(scratch, scratch)
        args = [
            self.engine, "run", "--rm", "--init",
            "--label", f"{RUN_LABEL}={self.run}",
            "--network", "host",
            "--user", self.user,
            "--workdir", str(cwd),
        ]  # fmt: skip
        args += _mounts((cwd, scratch), read_only=False)
        args += _mounts([cwd / ".git"] if (cwd / ".git").exists() else [], read_only=True)
        for name in sorted(env):
            args += ["--env", name]
        args += [self.image, *argv]
        return args, {**env, **_engine_env()}


def _engine_env() -> dict[str, str]:
    """What the engine's own client needs from the orchestrator's environment to reach its
    daemon (never passed on into the container: only the names in ``--env`` are)."""
    names = ("DOCKER_HOST", "DOCKER_CONFIG", "CONTAINER_HOST", "XDG_RUNTIME_DIR", "HOME")
    return {k: v for k in names if (v := os.environ.get(k)) is not None}


def _mounts(paths: Iterable[Path], *, read_only: bool) -> list[str]:
    suffix = ",readonly" if read_only else ""
    args = []
    for path in paths:
        args += ["--mount", f"type=bind,source={path},target={path}{suffix}"]
    return args


@final
class ContainerRuntime(WrappingRuntime):
    """A runtime that starts every command in a container, in another runtime's panes."""

    def __init__(self, inner: Runtime, policy: ContainerPolicy) -> None:
        super().__init__(inner)
        self.policy = policy

    def wrap(self, spec: LaunchSpec, name: str) -> LaunchSpec:
        """The command in instance ``name``'s container."""
        return self.policy.wrap(spec, name)

    def wrap_command(
        self, argv: Sequence[str], cwd: Path, scratch: Path
    ) -> tuple[list[str], dict[str, str]]:
        """The gate command in its own container (see :meth:`ContainerPolicy.wrap_command`)."""
        return self.policy.wrap_command(argv, cwd, scratch)

    async def respawn(self, name: str, spec: LaunchSpec) -> int:
        """Replace the pane's process (and its container) with a new container."""
        await self._remove([self.policy.container_name(name)])
        return await super().respawn(name, spec)

    async def kill(self, name: str) -> None:
        """Close the window and remove its container."""
        await super().kill(name)
        await self._remove([self.policy.container_name(name)])

    async def close(self) -> None:
        """End every pane, then remove every container labelled with this run."""
        await super().close()
        listed = await anyio.run_process(
            [
                self.policy.engine,
                "ps",
                "--all",
                "--quiet",
                "--filter",
                f"label={RUN_LABEL}={self.policy.run}",
            ],
            check=False,
        )
        await self._remove(listed.stdout.decode().split())

    async def _remove(self, containers: list[str]) -> None:
        if containers:
            await anyio.run_process([self.policy.engine, "rm", "--force", *containers], check=False)
