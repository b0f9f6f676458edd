"""The queue scheduler's task file: checklist items and task headings, ids, dependencies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra.errors import TaskFileError
from claude_orchestra.taskfile import parse_task_file

FILE = """# Tasks

Free text is kept out of the tasks.

- [ ] Create `greet.py` that prints a greeting {#greet}
  Use an f-string.
- [ ] Add `test_greet.py` for it {after: greet}
- [x] Set up the package
* [ ] Create `shout.py`

## [ ] Write `docs/usage.md` {#docs after: greet}
The guide covers both modules.
- [ ] this checklist is part of the detail

## Notes
- [ ] Last one {#last after: docs, greet}
"""


def test_items_and_headings_become_tasks_in_file_order() -> None:
    tasks = parse_task_file(FILE).tasks
    assert [(t.key, t.after, t.done, t.line) for t in tasks] == [
        ("greet", (), False, 5),
        ("Add `test_greet.py` for it", ("greet",), False, 7),
        ("Set up the package", (), True, 8),
        ("Create `shout.py`", (), False, 9),
        ("docs", ("greet",), False, 11),
        ("last", ("docs", "greet"), False, 16),
    ]
    assert tasks[0].text == "Create `greet.py` that prints a greeting"
    assert tasks[0].detail == "Use an f-string."
    assert tasks[4].detail == (
        "The guide covers both modules.\n- [ ] this checklist is part of the detail"
    )


def test_a_task_is_ready_once_what_it_waits_for_is_done() -> None:
    tasks = parse_task_file(FILE)
    first = [t.key for t in tasks.ready(done=(), taken=())]
    assert first == ["greet", "Create `shout.py`"]
    assert [t.key for t in tasks.ready(done=(), taken=("greet",))] == ["Create `shout.py`"]
    after_greet = [t.key for t in tasks.ready(done=("greet",), taken=())]
    assert after_greet == ["Add `test_greet.py` for it", "Create `shout.py`", "docs"]
    assert tasks.open_keys(done=("greet", "docs")) == (
        "Add `test_greet.py` for it",
        "Create `shout.py`",
        "last",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- [ ] a {after: b}", "TASKS.md: line 1: after: no task has the id 'b'"),
        ("- [ ] a {#x}\n- [ ] b {#x}", "TASKS.md: line 2: id: 'x' is also line 1"),
        (
            "- [ ] a {#a after: b}\n- [ ] b {#b after: a}",
            "TASKS.md: line 2: after: 'a' waits for this task in turn (a cycle)",
        ),
        ("- [ ] {#x}", "TASKS.md: line 1: task: has no text"),
        ("- [ ] a {size=3}", "TASKS.md: line 1: attributes: expected #id or after:, got 'size=3'"),
        ("- [ ] a {#x #y}", "TASKS.md: line 1: id: a task has one id"),
        ("- [ ] a {after:}", "TASKS.md: line 1: after: names no task"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_line_and_the_field(text: str, message: str) -> None:
    with pytest.raises(TaskFileError) as caught:
        parse_task_file(text)
    assert str(caught.value) == message


@given(
    st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=30),
    st.data(),
)
def test_handing_out_ready_tasks_finishes_every_task_after_its_dependencies(
    sizes: list[int], data: st.DataObject
) -> None:
    """Tasks wait only for earlier tasks (so no cycle); doing whatever is ready, in any
    order, finishes all of them, each after everything it waits for."""
    lines = []
    for n, _ in enumerate(sizes):
        deps = data.draw(st.sets(st.integers(0, n - 1), max_size=3)) if n else set()
        after = f" after: {', '.join(f't{d}' for d in sorted(deps))}" if deps else ""
        lines.append(f"- [ ] task {n} {{#t{n}{after}}}")
    tasks = parse_task_file("\n".join(lines))
    done: list[str] = []
    while ready := tasks.ready(done=done, taken=()):
        pick = data.draw(st.sampled_from(ready))
        assert all(dep in done for dep in pick.after)
        done.append(pick.key)
    assert sorted(done) == sorted(tasks.keys)
