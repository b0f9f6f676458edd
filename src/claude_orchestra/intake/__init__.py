"""The HTTP intake: how events reach the loop.

Owns: the hook app (:mod:`.app`: authenticate, parse, enqueue, reply — nothing else), its
server on 127.0.0.1 (:mod:`.server`), the per-launch hook tokens (:mod:`.keys`) and the
stdlib-only relay (:mod:`.relay`) that command hooks, tmux's ``pane-died`` and a remote
host run to forward an event to the app.

May import: errors, events, credentials (the secrets it redacts), strict JSON, the clock
and the safe-file readers. Never the loop: it only puts typed events on the loop's stream.
"""
