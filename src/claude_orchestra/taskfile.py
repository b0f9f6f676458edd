"""The ``queue`` scheduler's task file (``TASKS.md`` on the run branch), parsed into values.

The format is a Markdown checklist; a task may also be a heading with a body::

    # Tasks

    - [ ] Create `greet.py` that prints a greeting {#greet}
    - [ ] Add `test_greet.py` for it {after: greet}
    - [x] Set up the package

    ## [ ] Write `docs/usage.md` {#docs after: greet}
    Everything under the heading, up to the next heading, is the task's detail and is
    sent with it.

Each unindented checklist item (``-`` or ``*``) and each heading whose text starts with a
box is a task, in file order. A trailing ``{...}`` holds its attributes: ``#name`` gives it
an id, ``after: a, b`` names the tasks it waits for. A task without an id is known by its
text. A ticked box means done before the run. Indented lines under an item are its detail;
under a task heading every line is (checklists too), up to the next heading.

The orchestrator never edits the file: what is done during the run is its own record (a
task is done when its work has reached the run branch), so workers never conflict over it.
Bad files are rejected whole, with the line and attribute named
(:class:`~claude_orchestra.errors.TaskFileError`).

Workers' merges reach the file, which is read again during the run, so parsing takes time
linear in its size (no pattern here can backtrack over a line), the size and line length
are capped (:data:`MAX_BYTES`, :data:`MAX_LINE`), and the dependency check is iterative:
every failure is a ``TaskFileError``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import final

import attrs

from claude_orchestra.errors import TaskFileError

TASK_FILE = "TASKS.md"
"""The default task file (config ``taskFile``)."""

MAX_BYTES = 1024 * 1024
"""The largest task file accepted (characters)."""
MAX_LINE = 10_000
"""The longest line accepted (characters)."""

# Every pattern is anchored at the start and has no two adjacent parts that can match the
# same characters; trailing blanks are stripped by str.rstrip, never by a pattern.
_ITEM = re.compile(r"[-*] \[(?P<mark>[ xX])\]\s(?P<text>.*)", re.DOTALL)
_HEADING = re.compile(r"(?P<level>#{1,6})\s(?P<rest>.*)", re.DOTALL)
_BOX = re.compile(r"\[(?P<mark>[ xX])\]\s(?P<text>.*)", re.DOTALL)
_ID = re.compile(r"[A-Za-z0-9][\w.-]*")


@final
@attrs.frozen(kw_only=True)
class QueueTask:
    """One task of the task file."""

    key: str
    """Its id (``{#name}``), else its text: how dependencies and the run's record name it."""
    text: str
    """The task as written, without its attributes."""
    detail: str = ""
    """The lines under it (a heading's body, an item's indented lines)."""
    after: tuple[str, ...] = ()
    """Keys of the tasks that must be done (on the run branch) before this one starts."""
    done: bool = False
    """Ticked in the file: done before the run."""
    line: int = 0
    """One-based line number in the file."""


@final
@attrs.frozen
class TaskFile:
    """The tasks of a task file, in file order; dependencies checked (known, no cycle)."""

    tasks: tuple[QueueTask, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """Every task's key, in file order."""
        return tuple(t.key for t in self.tasks)

    def done_in_file(self) -> frozenset[str]:
        """Tasks ticked in the file."""
        return frozenset(t.key for t in self.tasks if t.done)

    def ready(self, done: Collection[str], taken: Collection[str]) -> tuple[QueueTask, ...]:
        """Tasks that can start now, in file order: not done, not taken, and every task
        they wait for done."""
        finished = set(done) | self.done_in_file()
        return tuple(
            t
            for t in self.tasks
            if t.key not in finished
            and t.key not in taken
            and all(dep in finished for dep in t.after)
        )

    def open_keys(self, done: Collection[str]) -> tuple[str, ...]:
        """Tasks not done yet, in file order."""
        finished = set(done) | self.done_in_file()
        return tuple(t.key for t in self.tasks if t.key not in finished)


def parse_task_file(text: str, *, path: str = TASK_FILE) -> TaskFile:
    """Parse a task file.

    Raises:
        TaskFileError: the file or a line is too long, an attribute is malformed, two
            tasks share a key, a task waits for an unknown task, or the dependencies form a
            cycle; the line is named.
    """
    if len(text) > MAX_BYTES:
        raise TaskFileError(path, 0, "file", f"longer than {MAX_BYTES} characters")
    tasks: list[QueueTask] = []
    detail: list[str] = []
    in_heading_task = False

    def close() -> None:
        if tasks and detail:
            tasks[-1] = attrs.evolve(tasks[-1], detail="\n".join(detail).strip("\n"))
        detail.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_LINE:
            raise TaskFileError(path, number, "line", f"longer than {MAX_LINE} characters")
        heading = _HEADING.match(line)
        box = _BOX.match(heading["rest"].strip()) if heading else None
        item = None if heading or in_heading_task else _ITEM.match(line)
        if heading:
            close()
            in_heading_task = box is not None
            if box is not None:
                tasks.append(_task(box["text"], box["mark"], number, path))
        elif item:
            close()
            in_heading_task = False
            tasks.append(_task(item["text"], item["mark"], number, path))
        elif tasks and (in_heading_task or line.startswith((" ", "\t"))):
            detail.append(line.strip() if not in_heading_task else line)
        elif line.strip():
            close()
            in_heading_task = False
    close()
    _check(tasks, path)
    return TaskFile(tuple(tasks))


def _task(written: str, mark: str, line: int, path: str) -> QueueTask:
    """A task from its line's text: attributes split off and checked."""
    key: str | None = None
    after: list[str] = []
    body, text = _split_attributes(written.strip())
    if body is not None:
        body = body.strip()
        named, _, waits = body.partition("after:")
        for token in named.split():
            if not token.startswith("#") or not _ID.fullmatch(token[1:]):
                reason = f"expected #id or after:, got {token!r}"
                raise TaskFileError(path, line, "attributes", reason)
            if key is not None:
                raise TaskFileError(path, line, "id", "a task has one id")
            key = token[1:]
        if "after:" in body:
            after = [w.strip() for w in waits.replace(",", " ").split()]
            if not after:
                raise TaskFileError(path, line, "after", "names no task")
    if not text:
        raise TaskFileError(path, line, "task", "has no text")
    return QueueTask(key=key or text, text=text, after=tuple(after), done=mark != " ", line=line)


def _split_attributes(written: str) -> tuple[str | None, str]:
    """A task's trailing ``{...}`` body (``None`` when it has none) and its text before."""
    if not written.endswith("}"):
        return None, written
    start = written.rfind("{")
    body = written[start + 1 : -1]
    if start < 0 or "}" in body:
        return None, written
    return body, written[:start].strip()


def _check(tasks: list[QueueTask], path: str) -> None:
    by_key: dict[str, QueueTask] = {}
    for task in tasks:
        if task.key in by_key:
            raise TaskFileError(
                path, task.line, "id", f"{task.key!r} is also line {by_key[task.key].line}"
            )
        by_key[task.key] = task
    for task in tasks:
        for dep in task.after:
            if dep not in by_key:
                raise TaskFileError(path, task.line, "after", f"no task has the id {dep!r}")
    _check_acyclic(by_key, path)


def _check_acyclic(by_key: Mapping[str, QueueTask], path: str) -> None:
    """Depth-first search with an explicit stack (a long chain must not exhaust Python's
    recursion); the first task found on a cycle is named."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for root in by_key:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(by_key[root].after))]
        while stack:
            key, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                state[key] = 2
                stack.pop()
            elif state.get(dep) == 1:
                reason = f"{dep!r} waits for this task in turn (a cycle)"
                raise TaskFileError(path, by_key[key].line, "after", reason)
            elif dep not in state:
                state[dep] = 1
                stack.append((dep, iter(by_key[dep].after)))
