"""Git: the one door into git, for the clone, the workers' checkouts and origin.

Owns: running git safely (:mod:`.env`: the environment and ``-c`` overrides every git call
runs with; :mod:`.config`: the repository config it refuses to run with; :mod:`.session`:
one operation's git and the refs the orchestrator keeps; :mod:`.strings`, :mod:`.refnames`:
what goes in and comes out as text), the operations (:mod:`.ops` on the clone and origin,
:mod:`.checkout` inside a checkout), the objects the orchestrator holds
(:class:`~claude_orchestra.git.repo.GitRepo`, :class:`~claude_orchestra.git.worktree.Worktree`,
the files copied into worktrees), and git off the loop: the
:class:`~claude_orchestra.git.origin_watch.OriginWatch` (pushes and fetches beside the loop,
coming back as ``OriginRead`` events with origin's facts, :mod:`.evidence`, read through a
long-lived ``git cat-file --batch``, :mod:`.catfile`, and one ``rev-list`` a round,
:mod:`.batch_reads`) and the ``queue`` merger's
:class:`~claude_orchestra.git.merge_queue.MergeQueue`.

May import: errors, events, the clock, worker naming, task lists, the safe-file readers,
and (the merge queue, which runs the merge gate's test command where instances run) the
runtime protocol and :mod:`claude_orchestra.runtimes.gate`. Never the loop, tmux or HTTP.
"""
