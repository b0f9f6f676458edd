"""Mutation testing of the core modules with mutmut, against the fast tests only.

    .venv/bin/pip install -e '.[mutation]'
    .venv/bin/python bench/mutation.py [MODULE ...] [--max-children 2] [--diffs] [--write]

mutmut (configured in ``pyproject.toml``'s ``[tool.mutmut]``) copies the source into
``mutants/``, makes small breaks in the named modules (an operator, a constant, a
``continue`` made ``break``...) and runs the unit tests (``tests/unit``: no Claude Code,
no tmux) that cover each mutated function against each break. A break the tests catch is
*killed*; one they let pass *survived*, and names a decision no fast test pins down.

MODULE is a core module's name (``loop.recovery``, ``progress``...; default: every one in
:data:`CORE`). The score is killed (timeouts included, as the break hung the tests) over
every mutant checked. Prints the score per module and the survivors (with ``--diffs``,
each one's diff); ``--write`` also writes ``bench/results/mutation.{json,md}``, with the
load average before and after (a noisy machine makes timeouts, not kills). Run by hand or
in a scheduled job, not in CI: the fourteen modules take tens of minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _results import stamp, write_results

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = Path(sys.executable).parent / "mutmut"
CORE = (
    "loop.recovery",
    "loop.watchdog",
    "loop.review",
    "loop.merges",
    "loop.judging",
    "loop.budgets",
    "loop.ending",
    "loop.scheduling",
    "loop.worker_prompts",
    "progress",
    "auth.rotator",
    "costs.budget",
    "lifecycle",
    "taskfile",
    "tasklists",
    "prompt_tag",
    "auth.reset_time",
)
"""The core modules (``src/claude_orchestra/<name>.py``, a dot for a package's module:
``loop.recovery`` is ``loop/recovery.py``) under mutation testing: the loop's pure decision
core first, then the rest. The list ``only_mutate`` in ``pyproject.toml`` must name the same
files."""

KILLED = {"killed", "timeout"}
NOT_RUN = {"not checked", "skipped"}


def _mutmut(*args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [str(MUTMUT), *args],
        cwd=ROOT,
        check=False,
        text=True,
        capture_output=capture,
    )
    if result.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} exited {result.returncode}")
    return result.stdout if capture else ""


def statuses(modules: list[str]) -> dict[str, str]:
    """Mutant name -> mutmut's status, for the mutants of ``modules``."""
    found: dict[str, str] = {}
    for line in _mutmut("results", "--all", "true", capture=True).splitlines():
        name, _, status = line.strip().rpartition(": ")
        if module_of(name) in modules:
            found[name] = status
    return found


def module_of(mutant: str) -> str:
    """``loop.recovery`` for ``claude_orchestra.loop.recovery.x_decide__mutmut_3``."""
    path, _, _function = mutant.rpartition(".")
    return path.removeprefix("claude_orchestra.")


def score(found: dict[str, str]) -> tuple[int, int, float | None]:
    """(killed, checked, killed / checked) over the mutants that were run."""
    checked = [s for s in found.values() if s not in NOT_RUN]
    killed = sum(1 for s in checked if s in KILLED)
    return killed, len(checked), (killed / len(checked) if checked else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=f"of {', '.join(CORE)}")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--diffs", action="store_true", help="show each survivor's diff")
    parser.add_argument("--write", action="store_true", help="write bench/results/mutation.*")
    args = parser.parse_args()
    modules = args.modules or list(CORE)
    if unknown := sorted(set(modules) - set(CORE)):
        parser.error(f"not a core module: {', '.join(unknown)}")
    if not MUTMUT.exists():
        parser.error(f"{MUTMUT} is missing: pip install -e '.[mutation]'")
    (ROOT / "mutants" / "tools").mkdir(parents=True, exist_ok=True)  # for also_copy
    load_before = os.getloadavg()
    started = time.monotonic()
    globs = [f"claude_orchestra.{m}.*" for m in modules]
    _mutmut("run", "--max-children", str(args.max_children), *globs)
    seconds = time.monotonic() - started
    load_after = os.getloadavg()
    found = statuses(modules)
    survivors = sorted(n for n, s in found.items() if s not in KILLED | NOT_RUN)
    rows = []
    for module in modules:
        own = {n: s for n, s in found.items() if module_of(n) == module}
        killed, checked, share = score(own)
        rows.append((module, killed, checked, share, Counter(own.values())))
    killed, checked, share = score(found)
    table = [
        "# Mutation testing (mutmut, tests/unit only)",
        "",
        f"{stamp()['date']}; {args.max_children} children; {seconds / 60:.1f} min; load "
        f"average (1, 5, 15 min) {' '.join(f'{x:.2f}' for x in load_before)} before, "
        f"{' '.join(f'{x:.2f}' for x in load_after)} after.",
        "",
        "| module | killed | checked | score | other outcomes |",
        "|---|---:|---:|---:|---|",
    ]
    for module, k, c, s, counts in rows:
        other = ", ".join(f"{v} {n}" for n, v in sorted(counts.items()) if n not in KILLED)
        table.append(f"| {module} | {k} | {c} | {_pct(s)} | {other or '-'} |")
    table += [
        f"| **all** | **{killed}** | **{checked}** | **{_pct(share)}** | |",
        "",
        f"Not run this time: {', '.join(m for m in CORE if m not in modules) or 'none'}.",
        "Goal (issue #20): at least 85 % killed by tests that need no Claude Code.",
        "",
        f"## Survivors ({len(survivors)})",
        "",
        *(f"- `{n}` ({found[n]})" for n in survivors),
    ]
    if args.diffs:
        for name in survivors:
            table += ["", "```diff", _mutmut("show", name, capture=True).strip(), "```"]
    result: dict[str, Any] = {
        **stamp(),
        "modules": modules,
        "seconds": seconds,
        "load_average": {"before": load_before, "after": load_after},
        "killed": killed,
        "checked": checked,
        "score": share,
        "statuses": found,
    }
    if args.write:
        write_results("mutation", result, table)
    else:
        print("\n".join(table))
    return 0


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


if __name__ == "__main__":
    sys.exit(main())
