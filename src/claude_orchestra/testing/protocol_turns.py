"""The orchestra protocol's turns as scripted replies: one function per action of the tag.

:class:`~claude_orchestra.testing.scripted.OrchestraScript` reads the machine tag on a
prompt and hands the request to :func:`act`, which answers as the manager or a worker would
(see the class's docstring for each action's turns). Pure: the request holds the whole
conversation, so nothing is kept between requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from claude_orchestra.tasklists import (
    TaskList,
    parse_task_list,
    render_task_list,
    task_list_filename,
)
from claude_orchestra.testing.messages import MessagesRequest, Reply, TextBlock
from claude_orchestra.testing.replies import bash, text_reply, tool_reply, write
from claude_orchestra.workers import worker_branch

BROKEN = "BROKEN"
"""Lines holding this break a test gate (``! grep -rq BROKEN``); the scripted ``fix`` drops them."""

UNWORKABLE = "(as written, impossible)"
"""A task holding this is refused by the scripted worker until the manager rewords it."""

_BULLET = re.compile(r"^\s*(?:[-*]|\d+[.)])\s+(?P<text>\S.*?)\s*$")
_CHECKBOX = re.compile(r"^\[[ xX]\]")
_PATH = re.compile(r"`(?P<path>[^`\s]+)`")


def direction_tasks(text: str) -> tuple[str, ...]:
    """Every Markdown bullet (``-``, ``*``, ``1.``) of ``text`` that is not a checkbox."""
    tasks = []
    for line in text.splitlines():
        match = _BULLET.match(line)
        if match and not _CHECKBOX.match(match["text"]):
            tasks.append(match["text"])
    return tuple(tasks)


def deliverable_path(task: str) -> str:
    """Where a worker writes a task's result: its first backticked relative path, else notes/."""
    for match in _PATH.finditer(task):
        path = match["path"]
        parts = path.split("/")
        if ("." in path or "/" in path) and not path.startswith("/") and ".." not in parts:
            return path
    slug = re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")[:40].strip("-")
    return f"notes/{slug or 'task'}.md"


def deliverable_content(task: str, worker: int) -> str:
    """A short file derived from the task text (Python for ``.py``, else Markdown)."""
    if deliverable_path(task).endswith(".py"):
        summary = task.replace('"""', "'''").replace("\\", "/")
        return (
            f'"""{summary}."""\n\n\n'
            "def main() -> None:\n"
            '    """Say what this file is for."""\n'
            f"    print({task!r})\n\n\n"
            'if __name__ == "__main__":\n'
            "    main()\n"
        )
    return f"# {task}\n\nDone by worker {worker}.\n"


def _in(cwd: str | None, name: str) -> str:
    return f"{cwd.rstrip('/')}/{name}" if cwd else name


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _task_list_text(output: str) -> str:
    """The task list in a command's output (anything before its ``#`` heading dropped)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("# ")), 0)
    return "\n".join(lines[start:]) + "\n"


def act(request: MessagesRequest, tag: Mapping[str, Any]) -> Reply:
    action = _ACTIONS.get(str(tag.get("action")))
    if action is None:
        return text_reply(f"I do not know the action {tag.get('action')!r}.")
    return action(request, tag)


def _act_replan(request: MessagesRequest, tag: Mapping[str, Any]) -> Reply:
    handed_back = {int(n): str(t) for n, t in dict(tag["handed_back"]).items()}
    return _replan(request, handed_back, str(tag["run_branch"]))


_ACTIONS: Mapping[str, Callable[[MessagesRequest, Mapping[str, Any]], Reply]] = {
    "plan": lambda r, t: _plan(r, workers=int(t["workers"]), branch=str(t["run_branch"])),
    "work": lambda r, t: _work(r, worker=int(t["worker"]), run_branch=str(t["run_branch"])),
    "merge": lambda r, t: _merge(r, [str(b) for b in t["branches"]], str(t["run_branch"])),
    "replan": _act_replan,
    "fix": lambda r, t: _fix(r, branch=str(t["branch"]), run_branch=str(t["run_branch"])),
    "commit": lambda r, t: _commit(r, branch=str(t["branch"]), task=str(t.get("task") or "")),
    "task": lambda r, t: _task(
        r, branch=str(t["branch"]), run_branch=str(t["run_branch"]), task=str(t["task"])
    ),
    "plan_tasks": lambda r, t: _plan_tasks(r, file=str(t["file"]), branch=str(t["run_branch"])),
}


def _plan(request: MessagesRequest, *, workers: int, branch: str) -> Reply:
    results = request.turn_results
    match request.step:
        case 0:
            return tool_reply(bash("cat PROJECT_DIRECTION.md", "Read the project direction"))
        case 1:
            tasks = direction_tasks(results[0].text if results else "")
            dealt = {n: list(tasks[n - 1 :: workers]) for n in range(1, workers + 1)}
            return tool_reply(
                TextBlock(text=f"Splitting {len(tasks)} tasks between {workers} workers."),
                *(
                    write(_in(request.cwd, task_list_filename(n)), render_task_list(n, dealt[n]))
                    for n in range(1, workers + 1)
                ),
            )
        case 2:
            message = _quote(f"Plan: task lists for {workers} workers")
            return tool_reply(
                bash(
                    f"git add WORKER_*_TASK_LIST.md && git commit -q -m {message} "
                    f"&& git push -q origin HEAD:{_quote(branch)}",
                    "Commit and push the task lists",
                )
            )
        case _:
            count = len(direction_tasks(results[0].text)) if results else 0
            return text_reply(f"Planned {count} tasks for {workers} workers on {branch}.")


FETCH = "(git fetch -q origin || (sleep 1 && git fetch -q origin))"
"""How the scripted model fetches: once more when git fails, as a model would after
``cannot lock ref`` (another instance's git moved a shared ref at that moment)."""


def _work(request: MessagesRequest, *, worker: int, run_branch: str) -> Reply:
    name = task_list_filename(worker)
    branch = worker_branch(worker)
    if request.step == 0:
        return tool_reply(
            bash(
                f"{FETCH} && git merge -q --no-edit origin/{_quote(run_branch)} && cat {name}",
                "Bring in the plan and read my task list",
            )
        )
    results = request.turn_results
    task_list = parse_task_list(_task_list_text(results[0].text if results else ""))
    item = task_list.next_task
    if item is None:
        return text_reply("Nothing left to do.")
    if UNWORKABLE in item.text:
        return text_reply(f"I cannot do this task as it is written: {item.text}")
    match request.step:
        case 1:
            path = deliverable_path(item.text)
            return tool_reply(
                TextBlock(text=f"Working on: {item.text}"),
                write(_in(request.cwd, path), deliverable_content(item.text, worker)),
                write(_in(request.cwd, name), task_list.tick(item).render()),
            )
        case 2:
            message = _quote(f"{branch}: {item.text}")
            return tool_reply(
                bash(
                    f"git add -A && git commit -q -m {message} "
                    f"&& git push -q origin HEAD:{_quote(branch)}",
                    "Commit and push my work",
                )
            )
        case _:
            return text_reply(f"Done: {item.text}")


def _replan(request: MessagesRequest, handed_back: Mapping[int, str], run_branch: str) -> Reply:
    workers = sorted(handed_back)
    names = [task_list_filename(n) for n in workers]
    match request.step:
        case 0:
            shows = " && ".join(f"cat {name}" for name in names)
            return tool_reply(
                bash(
                    f"{FETCH} && git merge -q --no-edit origin/{_quote(run_branch)} && {shows}",
                    "Read the lists of the workers who handed tasks back",
                )
            )
        case 1:
            output = request.turn_results[0].text if request.turn_results else ""
            chunks = re.split(r"(?m)^(?=# Worker \d+ Task List)", output)
            lists = [parse_task_list(c) for c in chunks if c.startswith("# Worker ")]
            return tool_reply(
                TextBlock(text="Rewording the tasks that could not be done."),
                *(
                    write(_in(request.cwd, name), _reword(task_list, handed_back[n]))
                    for n, name, task_list in zip(workers, names, lists, strict=False)
                ),
            )
        case 2:
            files = " ".join(names)
            return tool_reply(
                bash(
                    f"git add {files} && git commit -q -m 'Replan: reword handed-back tasks' "
                    f"&& git push -q origin HEAD:{_quote(run_branch)}",
                    "Commit and push the reworked lists",
                )
            )
        case _:
            return text_reply(f"Reworked {len(workers)} task(s) on {run_branch}.")


def _fix(request: MessagesRequest, *, branch: str, run_branch: str) -> Reply:
    """Bring the run branch in keeping both sides of every conflict, drop the lines marked
    :data:`BROKEN`, commit and push."""
    if request.step > 0:
        return text_reply(f"Fixed {branch}: merged {run_branch}, kept both sides, tests repaired.")
    resolve = (
        "for f in $(git diff --name-only --diff-filter=U); do "
        "sed -i -e '/^<<<<<<< /d' -e '/^=======$/d' -e '/^>>>>>>> /d' \"$f\"; done"
    )
    repair = (
        f"for f in $(grep -rl {BROKEN} --include='*.py' . || true); "
        f"do sed -i '/{BROKEN}/d' \"$f\"; done"
    )
    return tool_reply(
        bash(
            f"{FETCH} && (git merge -q --no-edit origin/{_quote(run_branch)} || true)"
            f" && {resolve} && {repair} && git add -A"
            f" && (git commit -q -m {_quote('Fix: merge ' + run_branch + ', keep both sides')}"
            f" || true) && git push -q origin HEAD:{_quote(branch)}",
            "Merge the run branch, resolve keeping both sides, repair, push",
        )
    )


def _task(request: MessagesRequest, *, branch: str, run_branch: str, task: str) -> Reply:
    """The ``queue`` scheduler's worker turn: the task comes in the prompt, not from a list."""
    if UNWORKABLE in task:
        return text_reply(f"I cannot do this task as it is written: {task}")
    worker = int(branch.rsplit("-", 1)[-1]) if branch[-1:].isdigit() else 0
    match request.step:
        case 0:
            return tool_reply(
                bash(
                    f"{FETCH} && git merge -q --no-edit origin/{_quote(run_branch)}",
                    "Bring in the run branch",
                )
            )
        case 1:
            path = deliverable_path(task)
            return tool_reply(
                TextBlock(text=f"Working on: {task}"),
                write(_in(request.cwd, path), deliverable_content(task, worker)),
            )
        case 2:
            return tool_reply(
                bash(
                    f"git add -A && git commit -q -m {_quote(f'{branch}: {task}')} "
                    f"&& git push -q origin HEAD:{_quote(branch)}",
                    "Commit and push my work",
                )
            )
        case _:
            return text_reply(f"Done: {task}")


def _plan_tasks(request: MessagesRequest, *, file: str, branch: str) -> Reply:
    """The manager planning once for the ``queue`` scheduler: the direction's bullets become
    the task file's checklist (attributes such as ``{after: x}`` kept as written)."""
    match request.step:
        case 0:
            return tool_reply(bash("cat PROJECT_DIRECTION.md", "Read the project direction"))
        case 1:
            results = request.turn_results
            tasks = direction_tasks(results[0].text if results else "")
            text = "\n".join(["# Tasks", "", *(f"- [ ] {t}" for t in tasks)]) + "\n"
            return tool_reply(
                TextBlock(text=f"Writing {len(tasks)} tasks to {file}."),
                write(_in(request.cwd, file), text),
            )
        case 2:
            return tool_reply(
                bash(
                    f"git add {_quote(file)} && git commit -q -m {_quote('Plan: ' + file)} "
                    f"&& git push -q origin HEAD:{_quote(branch)}",
                    "Commit and push the task file",
                )
            )
        case _:
            return text_reply(f"Planned the tasks in {file} on {branch}.")


def _commit(request: MessagesRequest, *, branch: str, task: str) -> Reply:
    """Commit and push whatever the worktree holds."""
    if request.step > 0:
        return text_reply(f"Committed the leftover changes on {branch}.")
    message = _quote(f"{branch}: {task or 'leftover work'} (left uncommitted)")
    return tool_reply(
        bash(
            f"git add -A && git commit -q -m {message} && git push -q origin HEAD:{_quote(branch)}",
            "Commit and push the changes left in the worktree",
        )
    )


def _reword(task_list: TaskList, task: str) -> str:
    lines = list(task_list.lines)
    for item in task_list.items:
        if item.text == task and not item.done:
            lines[item.line] = lines[item.line].replace(task, task.replace(UNWORKABLE, "").strip())
    return "\n".join(lines) + "\n"


def _merge(request: MessagesRequest, branches: Sequence[str], run_branch: str) -> Reply:
    if request.step == 0 and branches:
        merges = " && ".join(f"git merge --no-edit origin/{_quote(b)}" for b in branches)
        return tool_reply(
            bash(
                f"{FETCH} && {merges} && git push -q origin HEAD:{_quote(run_branch)}",
                "Merge the finished branches and push",
            )
        )
    return text_reply(f"Merged {', '.join(branches) or 'nothing'} into {run_branch}.")
