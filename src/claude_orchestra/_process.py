"""Whether a process still runs, by id (the run's own, recorded in ``run.json``)."""

from __future__ import annotations

import os


def alive(pid: object) -> bool:
    """A process with this id runs (one we may not signal counts as running)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
