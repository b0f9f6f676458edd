"""The built-in runtimes (config ``"runtime"``): ``local``, ``sandbox``, ``container`` and
``remote``.

``local`` runs every instance in a window of the run's private tmux server. ``sandbox``
runs each instance's process inside a bubblewrap sandbox in the same kind of window
(:mod:`claude_orchestra.runtimes.sandbox`); ``container`` in its own Docker or Podman container
(:mod:`claude_orchestra.runtimes.container`). Both check their tool when the run starts, before
anything is cloned. ``remote`` keeps the manager here and runs the workers on the hosts of
``remoteHosts`` over SSH (:mod:`claude_orchestra.runtimes.remote`).
"""

from __future__ import annotations

from claude_orchestra.errors import PrerequisiteError
from claude_orchestra.hookspecs import hookimpl
from claude_orchestra.runtimes.base import Runtime, RuntimeContext
from claude_orchestra.runtimes.container import ContainerPolicy, ContainerRuntime, engine_problem
from claude_orchestra.runtimes.sandbox import SandboxPolicy, SandboxRuntime
from claude_orchestra.runtimes.tmux import TmuxServer

LOCAL = "local"
SANDBOX = "sandbox"
CONTAINER = "container"
REMOTE = "remote"


@hookimpl(trylast=True)
def orchestra_runtime(name: str, context: RuntimeContext) -> Runtime | None:
    """The ``local``, ``sandbox``, ``container`` and ``remote`` runtimes."""
    if name not in {LOCAL, SANDBOX, CONTAINER, REMOTE}:
        return None
    tmux = TmuxServer(socket_name=context.socket_name, config_file=context.tmux_config)
    if name == LOCAL:
        return tmux
    if name == REMOTE:
        # Imported here: asyncssh and its cryptography are 30 MB that a run without remote
        # hosts never needs.
        from claude_orchestra.runtimes.remote.runtime import RemoteRuntime  # noqa: PLC0415

        return RemoteRuntime(local=tmux, context=context)
    if name == SANDBOX:
        return SandboxRuntime(inner=tmux, policy=SandboxPolicy.for_run(context))
    policy = ContainerPolicy.for_run(
        context, engine=context.container_engine, image=context.container_image
    )
    problem = engine_problem(policy.engine)
    if problem is not None:
        raise PrerequisiteError("container", f"the engine cannot run containers: {problem}")
    return ContainerRuntime(inner=tmux, policy=policy)
