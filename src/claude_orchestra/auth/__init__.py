"""Credentials: what instances run on, which is resting, and where an instance goes next.

Owns: credentials as values with secrets that never print (:mod:`.credentials`), reading
``api-keys.json`` (:mod:`.api_keys`), the pool and who holds what
(:class:`~claude_orchestra.auth.rotator.AuthRotator`), when a limit lifts
(:mod:`.reset_time`), and the move after a credential failure: the values
(:mod:`.moves`) and the :class:`~claude_orchestra.auth.failover.Failover`, which asks the
``orchestra_select_credential`` plugins. The credential broker (:mod:`claude_orchestra.broker`)
builds on the rotator.

May import: errors, events, the clock, config files, instance views and (the failover) the
plugin host. Never git, tmux, HTTP or the loop.
"""
