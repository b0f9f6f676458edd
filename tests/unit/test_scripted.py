"""The scripted models, driven the way Claude Code drives them: whole conversations resent.

A small stand-in for Claude Code's tool loop (``run_turn``) sends each request, appends the
reply, runs its tools (for real: Bash in a shell, Write to disk) and sends the results,
until the script ends the turn.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra.prompt_tag import render_prompt_tag
from claude_orchestra.tasklists import parse_task_list, render_task_list
from claude_orchestra.testing.messages import parse_request
from claude_orchestra.testing.scripted import (
    FETCH,
    EchoScript,
    OrchestraScript,
    Reply,
    Script,
    TextBlock,
    ToolUseBlock,
    deliverable_content,
    deliverable_path,
    direction_tasks,
)
from claude_orchestra.testing.sse import content_json

Tool = Callable[[str, dict[str, Any]], tuple[str, bool]]

DIRECTION = """# Direction

Build a greeter.

- Create `greet.py` that prints a greeting
- Write a README section about greeting
* Add `docs/usage.md`
1. Add a CHANGELOG entry
- [ ] a checkbox is not a task
"""


def opening(prompt: str, cwd: str) -> list[dict[str, Any]]:
    """The first messages of a turn, shaped as Claude Code 2.1.328 sends them."""
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>\ncontext\n</system-reminder>"},
                {"type": "text", "text": prompt},
            ],
        },
        {
            "role": "system",
            "content": [{"type": "text", "text": f" - Primary working directory: {cwd}\n"}],
        },
    ]


def body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "model": "claude-opus-5-5",
        "stream": True,
        "max_tokens": 128000,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "messages": messages,
    }


def run_turn(
    script: Script, messages: list[dict[str, Any]], tool: Tool, limit: int = 8
) -> list[Reply]:
    """Play Claude Code's loop until the script ends the turn; returns every reply."""
    replies: list[Reply] = []
    for _ in range(limit):
        reply = script.respond(parse_request(body(messages)))
        replies.append(reply)
        content = content_json(reply, f"toolu_{len(replies)}")
        messages.append({"role": "assistant", "content": content})
        if reply.stop_reason == "end_turn":
            return replies
        results = []
        for block in content:
            if block["type"] == "tool_use":
                out, failed = tool(block["name"], block["input"])
                results.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": block["id"],
                        "content": out,
                        "is_error": failed,
                    }
                )
        messages.append({"role": "user", "content": results})
    raise AssertionError(f"the turn did not end in {limit} requests")


def real_tools(cwd: Path) -> Tool:
    """Bash and Write, for real, in ``cwd``."""

    def tool(name: str, tool_input: dict[str, Any]) -> tuple[str, bool]:
        if name == "Bash":
            done = subprocess.run(
                ["bash", "-c", tool_input["command"]],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            return done.stdout + done.stderr, done.returncode != 0
        assert name == "Write"
        path = Path(tool_input["file_path"])
        assert path.is_absolute()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tool_input["content"])
        return f"File created successfully at: {path}", False

    return tool


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare origin whose ``run`` branch holds PROJECT_DIRECTION.md."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    (seed / "PROJECT_DIRECTION.md").write_text(DIRECTION)
    git(seed, "add", "-A")
    git(seed, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-q", "-m", "init")
    git(seed, "push", "-q", "origin", "HEAD:run")
    return bare


def clone(origin: Path, where: Path, branch: str) -> Path:
    git(origin.parent, "clone", "-q", "-b", "run", str(origin), str(where))
    git(where, "config", "user.name", "Tester")
    git(where, "config", "user.email", "tester@example.com")
    if branch != "run":
        git(where, "checkout", "-q", "-b", branch)
    return where


# -- the request as a script sees it ------------------------------------------------------


def test_the_request_gives_cwd_prompt_and_step() -> None:
    messages = opening("first\n", "/work/repo")
    messages[0]["content"].append({"type": "text", "text": "second"})
    messages += [
        {"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": "out", "is_error": False},
                {"type": "text", "text": "<system-reminder>x</system-reminder>"},
            ],
        },
    ]
    request = parse_request(body(messages))
    assert request.cwd == "/work/repo"
    assert request.prompt_index == 0
    assert request.prompt == "first\n\nsecond"
    assert request.last_user_text == "second"
    assert request.step == 1
    assert [r.text for r in request.new_results] == ["out"]


def test_a_session_resumed_in_another_folder_works_in_the_new_one() -> None:
    messages = opening("first\n", "/old/worktrees/worker-1")
    moved = "/new/worktrees/worker-1 (was /old/worktrees/worker-1)"
    messages += [
        {"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
        {"role": "user", "content": [{"type": "text", "text": "go on"}]},
        {
            "role": "system",
            "content": [{"type": "text", "text": f" - Primary working directory: {moved}\n"}],
        },
    ]
    assert parse_request(body(messages)).cwd == "/new/worktrees/worker-1"


def test_string_content_and_tool_result_blocks_are_read() -> None:
    request = parse_request(
        body(
            [
                {"role": "user", "content": "hello"},
                {"role": "assistant", "content": "ok"},
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t",
                            "content": [
                                {"type": "text", "text": "a"},
                                {"type": "text", "text": "b"},
                            ],
                            "is_error": True,
                        }
                    ],
                },
            ]
        )
    )
    assert request.prompt == "hello"
    assert request.cwd is None
    assert request.new_results[0].text == "ab"
    assert request.new_results[0].is_error


def test_a_body_without_messages_is_rejected() -> None:
    with pytest.raises(ValueError, match="messages"):
        parse_request({"model": "m"})


# -- EchoScript ----------------------------------------------------------------------------


def test_echo_script_echoes_a_plain_prompt() -> None:
    replies = run_turn(EchoScript(), opening("say hi", "/w"), real_tools(Path("/")))
    assert replies == [Reply(blocks=(TextBlock(text="echo: say hi"),))]


def test_echo_script_runs_a_command_then_reports_its_first_line(tmp_path: Path) -> None:
    messages = opening("please run: echo made > made.txt && echo first && echo second", "/w")
    replies = run_turn(EchoScript(), messages, real_tools(tmp_path))
    assert replies[0].stop_reason == "tool_use"
    assert replies[0].blocks[0] == ToolUseBlock(
        name="Bash",
        input={
            "command": "echo made > made.txt && echo first && echo second",
            "description": "Run the requested command",
        },
    )
    assert replies[1] == Reply(blocks=(TextBlock(text="done: first"),))
    assert (tmp_path / "made.txt").read_text() == "made\n"


def test_a_failed_tool_ends_the_turn_with_its_error(tmp_path: Path) -> None:
    replies = run_turn(
        EchoScript(), opening("run: echo oops >&2; exit 3", "/w"), real_tools(tmp_path)
    )
    assert len(replies) == 2
    assert replies[1].stop_reason == "end_turn"
    block = replies[1].blocks[0]
    assert isinstance(block, TextBlock)
    assert "oops" in block.text


def test_no_prompt_at_all_gets_a_greeting() -> None:
    reply = EchoScript().respond(parse_request(body([])))
    assert reply.stop_reason == "end_turn"


# -- OrchestraScript: pure helpers ----------------------------------------------------------


def test_direction_tasks_are_the_bullets_that_are_not_checkboxes() -> None:
    assert direction_tasks(DIRECTION) == (
        "Create `greet.py` that prints a greeting",
        "Write a README section about greeting",
        "Add `docs/usage.md`",
        "Add a CHANGELOG entry",
    )


@pytest.mark.parametrize(
    ("task", "path"),
    [
        ("Create `greet.py` that prints", "greet.py"),
        ("Add `docs/usage.md` and `x.py`", "docs/usage.md"),
        ("Call `print` in `app/main.py`", "app/main.py"),
        ("Write a README section!", "notes/write-a-readme-section.md"),
        ("Never `/etc/passwd` nor `../up.txt`", "notes/never-etc-passwd-nor-up-txt.md"),
        ("***", "notes/task.md"),
    ],
)
def test_deliverable_path(task: str, path: str) -> None:
    assert deliverable_path(task) == path


@given(st.text(max_size=80))
def test_deliverables_are_relative_and_python_ones_compile(task: str) -> None:
    path = deliverable_path(task)
    assert not path.startswith("/")
    assert ".." not in path.split("/")
    content = deliverable_content(task, 1)
    if path.endswith(".py"):
        compile(content, path, "exec")


# -- OrchestraScript: whole turns on real git -------------------------------------------------


def tagged(facts: dict[str, Any]) -> str:
    return "Some prose for a real model.\n" + render_prompt_tag(facts)


def test_plan_work_and_merge_leave_the_work_on_the_run_branch(origin: Path, tmp_path: Path) -> None:
    script = OrchestraScript()
    manager = clone(origin, tmp_path / "manager", "run")
    plan = tagged({"action": "plan", "workers": 2, "run_branch": "run"})
    replies = run_turn(script, opening(plan, str(manager)), real_tools(manager))
    assert [r.stop_reason for r in replies] == ["tool_use", "tool_use", "tool_use", "end_turn"]
    assert git(manager, "log", "-1", "--format=%s", "origin/run") == (
        "Plan: task lists for 2 workers\n"
    )
    tasks = direction_tasks(DIRECTION)
    first = git(manager, "show", "origin/run:WORKER_1_TASK_LIST.md")
    assert first == render_task_list(1, [tasks[0], tasks[2]])
    second = git(manager, "show", "origin/run:WORKER_2_TASK_LIST.md")
    assert second == render_task_list(2, [tasks[1], tasks[3]])

    worker = clone(origin, tmp_path / "worker", "worker-1")
    work = tagged({"action": "work", "worker": 1, "branch": "worker-1", "run_branch": "run"})
    for task in (tasks[0], tasks[2]):
        replies = run_turn(script, opening(work, str(worker)), real_tools(worker))
        assert replies[-1] == Reply(blocks=(TextBlock(text=f"Done: {task}"),))
        assert git(worker, "log", "-1", "--format=%s", "origin/worker-1") == (f"worker-1: {task}\n")
    replies = run_turn(script, opening(work, str(worker)), real_tools(worker))
    assert len(replies) == 2
    assert replies[1] == Reply(blocks=(TextBlock(text="Nothing left to do."),))
    assert "print('Create `greet.py` that prints a greeting')" in (worker / "greet.py").read_text()
    assert (worker / "docs/usage.md").read_text().startswith("# Add `docs/usage.md`")

    merge = tagged({"action": "merge", "branches": ["worker-1"], "run_branch": "run"})
    replies = run_turn(script, opening(merge, str(manager)), real_tools(manager))
    assert replies[-1].stop_reason == "end_turn"
    on_run = git(manager, "ls-tree", "-r", "--name-only", "origin/run").split()
    assert {"greet.py", "docs/usage.md", "WORKER_1_TASK_LIST.md"} <= set(on_run)
    ticked = parse_task_list(git(manager, "show", "origin/run:WORKER_1_TASK_LIST.md"))
    assert ticked.finished
    assert len(ticked.items) == 2


def test_the_last_tag_of_the_prompt_message_wins() -> None:
    failed = tagged({"action": "merge", "branches": ["a"], "run_branch": "run"})
    new = tagged({"action": "plan", "workers": 1, "run_branch": "run"})
    messages = opening(failed, "/w")
    messages[0]["content"].append({"type": "text", "text": new})
    reply = OrchestraScript().respond(parse_request(body(messages)))
    assert reply.blocks == (
        ToolUseBlock(
            name="Bash",
            input={
                "command": "cat PROJECT_DIRECTION.md",
                "description": "Read the project direction",
            },
        ),
    )


def test_untagged_and_malformed_prompts_get_text_only() -> None:
    for prompt in ("hello", tagged({"action": "work"}), tagged({"action": "dance"})):
        reply = OrchestraScript().respond(parse_request(body(opening(prompt, "/w"))))
        assert reply.stop_reason == "end_turn"
        assert all(isinstance(b, TextBlock) for b in reply.blocks)


def test_a_failed_tool_ends_an_orchestra_turn() -> None:
    def failing(_: str, __: dict[str, Any]) -> tuple[str, bool]:
        return "fatal: not a git repository", True

    work = tagged({"action": "work", "worker": 1, "branch": "worker-1", "run_branch": "run"})
    replies = run_turn(OrchestraScript(), opening(work, "/w"), failing)
    assert len(replies) == 2
    assert replies[1].blocks == (
        TextBlock(text="The tool failed, so I stopped: fatal: not a git repository"),
    )


def test_merge_runs_every_branch_in_one_command() -> None:
    merge = tagged({"action": "merge", "branches": ["worker-1", "worker-2"], "run_branch": "r"})
    reply = OrchestraScript().respond(parse_request(body(opening(merge, "/w"))))
    block = reply.blocks[0]
    assert isinstance(block, ToolUseBlock)
    assert block.input["command"] == (
        f"{FETCH} && git merge --no-edit origin/'worker-1' "
        "&& git merge --no-edit origin/'worker-2' && git push -q origin HEAD:'r'"
    )


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["user", "assistant", "system"]),
                "content": st.one_of(
                    st.text(max_size=30),
                    st.lists(
                        st.fixed_dictionaries(
                            {
                                "type": st.sampled_from(["text", "tool_result", "tool_use"]),
                                "text": st.text(max_size=20),
                                "content": st.text(max_size=20),
                                "is_error": st.booleans(),
                            }
                        ),
                        max_size=3,
                    ),
                ),
            }
        ),
        max_size=6,
    ),
    st.sampled_from(
        [
            "",
            tagged({"action": "plan", "workers": 2, "run_branch": "r"}),
            tagged({"action": "work", "worker": 1, "branch": "worker-1", "run_branch": "r"}),
            tagged({"action": "merge", "branches": ["b"], "run_branch": "r"}),
        ]
    ),
)
def test_scripts_answer_any_conversation(messages: list[dict[str, Any]], prompt: str) -> None:
    if prompt:
        messages = [*opening(prompt, "/w"), *messages]
    request = parse_request(body(messages))
    for script in (EchoScript(), OrchestraScript()):
        reply = script.respond(request)
        assert reply.blocks
        assert (reply.stop_reason == "tool_use") == any(
            isinstance(b, ToolUseBlock) for b in reply.blocks
        )
