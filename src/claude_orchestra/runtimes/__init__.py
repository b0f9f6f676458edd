"""Runtimes: where and how an instance's process runs, and how a person reaches it.

Owns: the :class:`~claude_orchestra.runtimes.base.Runtime` protocol and its events
(:mod:`.base`), the built-in runtimes — ``local`` (:mod:`.tmux`, the run's private tmux
server), ``sandbox`` (:mod:`.sandbox`, bubblewrap), ``container`` (:mod:`.container`, Docker
or Podman) and ``remote`` (:mod:`.remote`, other hosts over SSH) — an instance's private
Claude Code home and command line (:mod:`.claude_home`), running a command the instances
wrote (:mod:`.gate`), text safe to type into a pane (:mod:`.typed_text`) and attaching a
terminal from outside (:mod:`.attach`).

May import: errors, events, credentials (values), the workspace layout, config loading
(attach), git's ``Checkout`` type and the relay's file (:mod:`claude_orchestra.intake.relay`,
copied or mounted where an instance runs). Never the loop. The loop sees a ``Runtime`` and,
when a remote connection drops or comes back, a ``RuntimeNotice`` event.
"""
