"""The ``remote`` runtime: workers on other hosts over SSH (asyncssh).

Owns: the hosts of ``orchestrator.json``'s ``remoteHosts`` and which instance runs where
(:mod:`.hosts`), the translation of a local launch into a remote one (:mod:`.translate`,
pure), the shell commands run on a host (:mod:`.commands`, pure), one SSH connection per
host with its reverse port forwards and its reconnection (:mod:`.link`, the only I/O on
SSH), the files of an instance's home copied there (:mod:`.homes`), re-adopting a
host's instances after a reconnection (:mod:`.adoption`, pure) and sending on the hook
events they spooled meanwhile (:mod:`.replay`),
ending a run's processes on a host before its folder goes (:mod:`.ending`, a stdlib-only
script run there; :mod:`.ended` reads its report), and the
:class:`~claude_orchestra.runtimes.base.Runtime` that puts them together (:mod:`.runtime`).

May import: the runtime protocol, ``claude_home`` (launch specs), the tmux adapter (the
manager stays local), errors, ``Secret`` and the relay. The loop knows none of it: it sees a
``Runtime`` and, when a connection drops or comes back, a
:class:`~claude_orchestra.runtimes.base.RuntimeNotice` event.
"""
