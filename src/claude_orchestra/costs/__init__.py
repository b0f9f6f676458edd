"""Costs: what each instance, credential, task and role spends, and the budgets on it.

Owns: reading usage from Claude Code's transcripts (:mod:`.transcripts`), the cost ledger
that prices and attributes it, counting each response once whichever source tells it first
(:mod:`.ledger`), and the budgets with their thresholds and crossings (:mod:`.budget`).
What a reached limit does is decided by :mod:`claude_orchestra.loop.budgets` and carried
out in the loop (:mod:`claude_orchestra.spending`).

Pure values and file reads: may import the safe-file readers; nothing else of the package.
"""
