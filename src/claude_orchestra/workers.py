"""Worker naming, in one place: worker ``N`` is the instance ``worker-N``, works on the
branch ``worker-N`` in the worktree ``worktrees/worker-N``."""

from __future__ import annotations

PREFIX = "worker-"


def worker_name(worker: int) -> str:
    """The instance name of worker ``worker`` (``worker-3``)."""
    return f"{PREFIX}{worker}"


def worker_branch(worker: int) -> str:
    """The branch of worker ``worker`` (its instance name)."""
    return worker_name(worker)


def worker_number(name: str) -> int | None:
    """The worker number an instance or branch name holds (``None``: not a worker's)."""
    digits = name.removeprefix(PREFIX)
    if digits == name or not digits.isdigit() or digits.startswith("0"):
        return None
    return int(digits)
