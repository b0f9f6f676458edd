"""The built-in runtimes (config ``"runtime"``): ``local`` and ``sandbox``.

``local`` runs every instance in a window of the run's private tmux server. ``sandbox``
runs each instance's process inside a bubblewrap sandbox in the same kind of window
(:mod:`claude_orchestra.sandbox`).
"""

from __future__ import annotations

from claude_orchestra.hookspecs import hookimpl
from claude_orchestra.runtime import Runtime, RuntimeContext
from claude_orchestra.sandbox import SandboxPolicy, SandboxRuntime
from claude_orchestra.tmux import TmuxServer

LOCAL = "local"
SANDBOX = "sandbox"


@hookimpl(trylast=True)
def orchestra_runtime(name: str, context: RuntimeContext) -> Runtime | None:
    """The ``local`` and ``sandbox`` runtimes."""
    if name not in {LOCAL, SANDBOX}:
        return None
    tmux = TmuxServer(socket_name=context.socket_name, config_file=context.tmux_config)
    if name == LOCAL:
        return tmux
    return SandboxRuntime(inner=tmux, policy=SandboxPolicy.for_run(context))
