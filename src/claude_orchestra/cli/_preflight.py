"""The checks ``run`` and ``validate`` make before anything starts (``doctor``'s, less the
installers)."""

from __future__ import annotations

from claude_orchestra import PrerequisiteError, RunConfig
from claude_orchestra.cli._output import warning_lines
from claude_orchestra.machine import Machine
from claude_orchestra.prerequisites import Check, Severity, check_all, problems


def preflight(config: RunConfig, machine: Machine | None = None) -> list[Check]:
    """Check what a run of ``config`` needs; print warnings; return the checks.

    Raises:
        PrerequisiteError: something a run needs is missing (one line per problem).
    """
    checks = check_all(machine or Machine.current(), config=config, installers=False)
    lines = problems(checks)
    if lines:
        name, _, reason = "\n".join(lines).partition(": ")
        raise PrerequisiteError(name, reason)
    warning_lines(c.line() for c in checks if c.severity is Severity.WARNING)
    return checks
