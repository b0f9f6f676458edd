"""Worker task lists: ``WORKER_<N>_TASK_LIST.md`` parsed into values and written back.

The format is the original tool's::

    # Worker 1 Task List

    ## Current Task
    - [ ] Create `greet.py` that prints a greeting

    ## Queue
    - [ ] Add a test for `greet.py`

    ## Completed
    - [x] Set up the package

A task is open while its box is empty. A worker does the first open task (the current one,
else the first in the queue) and ticks it; the list is finished when no box is empty.
Lines other than headings and checklist items are kept as they are. Parsing is linear in
the text's length: a worker writes these files, and they are read again during the run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import final

import attrs

# Anchored, and no two adjacent parts match the same characters: linear in the line's
# length (trailing blanks are stripped by str.rstrip, not by the pattern).
_ITEM = re.compile(r"(?P<indent>\s*)[-*] \[(?P<mark>[ xX])\] (?P<text>.*)", re.DOTALL)

MAX_LINE = 10_000
"""Longer lines are kept as they are but never read as items."""
_FILE = re.compile(r"^WORKER_(?P<n>[1-9][0-9]*)_TASK_LIST\.md$")


def task_list_filename(worker: int) -> str:
    """The file that holds worker ``worker``'s list: ``WORKER_<N>_TASK_LIST.md``."""
    if worker < 1:
        raise ValueError(f"worker numbers start at 1, got {worker}")
    return f"WORKER_{worker}_TASK_LIST.md"


def worker_of_filename(name: str) -> int | None:
    """The worker number a task-list file name belongs to, or ``None``."""
    match = _FILE.match(name)
    return int(match["n"]) if match else None


@final
@attrs.frozen(kw_only=True)
class TaskItem:
    """One checklist line."""

    text: str
    done: bool
    section: str
    """The ``##`` heading it sits under (``Current Task``, ``Queue``, ``Completed``...)."""
    line: int
    """Zero-based line number in the file."""


@final
@attrs.frozen(kw_only=True)
class TaskList:
    """A parsed task list; :attr:`lines` keeps the file so ticking changes one line only."""

    lines: tuple[str, ...]
    items: tuple[TaskItem, ...]

    @property
    def open_items(self) -> tuple[TaskItem, ...]:
        """Unticked items, current task first, then in file order."""
        current = [i for i in self.items if not i.done and i.section.lower() == "current task"]
        rest = [i for i in self.items if not i.done and i not in current]
        return (*current, *rest)

    @property
    def next_task(self) -> TaskItem | None:
        """The task a worker should do now, or ``None`` when the list is finished."""
        return next(iter(self.open_items), None)

    @property
    def finished(self) -> bool:
        """No unticked item is left."""
        return not self.open_items

    def tick(self, item: TaskItem) -> TaskList:
        """A copy with ``item`` ticked (``- [x]``); every other line unchanged."""
        lines = list(self.lines)
        lines[item.line] = re.sub(r"\[ \]", "[x]", lines[item.line], count=1)
        return parse_task_list("\n".join(lines) + "\n")

    def render(self) -> str:
        """The file's text."""
        return "\n".join(self.lines) + "\n"


def parse_task_list(text: str) -> TaskList:
    """Parse a task list's Markdown. Never fails: unknown lines are kept, not rejected."""
    lines = tuple(text.splitlines())
    section = ""
    items: list[TaskItem] = []
    for number, line in enumerate(lines):
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        match = _ITEM.match(line) if len(line) <= MAX_LINE else None
        if match:
            items.append(
                TaskItem(
                    text=match["text"].rstrip(),
                    done=match["mark"] != " ",
                    section=section,
                    line=number,
                )
            )
    return TaskList(lines=lines, items=tuple(items))


def render_task_list(worker: int, tasks: Sequence[str]) -> str:
    """A fresh list for ``worker``: the first task current, the rest queued."""
    current = [f"- [ ] {t}" for t in tasks[:1]]
    queue = [f"- [ ] {t}" for t in tasks[1:]]
    return "\n".join(
        [
            f"# Worker {worker} Task List",
            "",
            "## Current Task",
            *current,
            "",
            "## Queue",
            *queue,
            "",
            "## Completed",
            "",
        ]
    )
