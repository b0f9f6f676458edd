"""Branch names by git's own rules (``git check-ref-format --branch``), without running git.

:func:`branch_problem` says why a name is refused, or ``None``. The rules are git's
(``git help check-ref-format``), applied to ``refs/heads/<name>``: no component starts
with ``.`` or ends with ``.lock``; no ``..``, ``@{``, ``\\``, control character, space,
``~ ^ : ? * [``; no leading, trailing or doubled ``/``; no trailing ``.``; not ``@``; and,
as a branch, no leading ``-`` and not ``HEAD``. Names are also capped at
:data:`MAX_BRANCH_BYTES`. A differential test checks the rules against git itself.
"""

from __future__ import annotations

import re

MAX_BRANCH_BYTES = 255
"""The longest branch name accepted (UTF-8 bytes): longer ones break on most file systems."""

_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def branch_problem(name: str) -> str | None:
    """Why ``name`` cannot be a branch, or ``None`` when git would take it."""
    reason: str | None = None
    if not name:
        reason = "is empty"
    elif len(name.encode("utf-8", "surrogatepass")) > MAX_BRANCH_BYTES:
        reason = f"is longer than {MAX_BRANCH_BYTES} bytes"
    elif match := _FORBIDDEN.search(name):
        reason = f"holds {match.group()!r}, which git refuses"
    elif name in {"@", "HEAD"} or name.startswith("-"):
        reason = "is not a branch name git accepts"
    elif ".." in name or "@{" in name:
        reason = "holds '..' or '@{', which git refuses"
    elif name.startswith("/") or name.endswith(("/", ".")) or "//" in name:
        reason = "starts or ends with '/', ends with '.' or holds '//'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        reason = "has a part that starts with '.' or ends with '.lock'"
    return reason
