"""Task lists: parse, tick, render; never fail on odd input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra.prompt_tag import parse_prompt_tag, render_prompt_tag
from claude_orchestra.tasklists import (
    MAX_LINE,
    parse_task_list,
    render_task_list,
    task_list_filename,
    worker_of_filename,
)

LIST = """# Worker 2 Task List

## Current Task
- [ ] Write `greet.py`

## Queue
- [ ] Add tests
* [X] Old done item

## Completed
- [x] Set up
Some free text
"""


def test_the_current_task_comes_first_and_ticking_changes_one_line() -> None:
    tasks = parse_task_list(LIST)
    assert [i.text for i in tasks.open_items] == ["Write `greet.py`", "Add tests"]
    ticked = tasks.tick(tasks.open_items[0])
    changed = [a for a, b in zip(LIST.splitlines(), ticked.lines, strict=True) if a != b]
    assert changed == ["- [ ] Write `greet.py`"]
    assert ticked.next_task is not None
    assert ticked.next_task.text == "Add tests"
    final = ticked.tick(ticked.open_items[0])
    assert final.finished
    assert "Some free text" in final.render()


def test_file_names_map_to_workers() -> None:
    assert task_list_filename(3) == "WORKER_3_TASK_LIST.md"
    assert worker_of_filename("WORKER_12_TASK_LIST.md") == 12
    assert worker_of_filename("WORKER_0_TASK_LIST.md") is None
    assert worker_of_filename("notes.md") is None


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1)
        .map(lambda s: " ".join(s.split()))
        .filter(bool),
        max_size=8,
    )
)
def test_rendered_lists_parse_back_to_their_tasks(tasks: list[str]) -> None:
    parsed = parse_task_list(render_task_list(1, tasks))
    assert [i.text for i in parsed.open_items] == tasks
    assert parsed.finished == (not tasks)


@given(st.text())
def test_any_text_parses(text: str) -> None:
    parsed = parse_task_list(text)
    assert all(0 <= item.line < len(parsed.lines) for item in parsed.items)


def test_prompt_tags_round_trip_and_the_last_one_wins() -> None:
    first = render_prompt_tag({"action": "plan", "workers": 2})
    second = render_prompt_tag({"action": "work", "worker": 1, "task": "a -- b"})
    assert parse_prompt_tag(f"text\n{first}\nmore\n{second}") == {
        "action": "work",
        "worker": 1,
        "task": "a -- b",
    }
    assert parse_prompt_tag("no tag here") is None
    assert parse_prompt_tag("<!-- orchestra {broken} -->") is None


def test_a_fresh_list_is_written_in_the_original_tools_format() -> None:
    assert render_task_list(2, ["First", "Second", "Third"]) == (
        "# Worker 2 Task List\n"
        "\n"
        "## Current Task\n"
        "- [ ] First\n"
        "\n"
        "## Queue\n"
        "- [ ] Second\n"
        "- [ ] Third\n"
        "\n"
        "## Completed\n"
    )


def test_items_know_their_section_and_lose_trailing_blanks_only() -> None:
    listed = parse_task_list("- [ ] before any heading\n## Queue \n- [X]   indented text   \n")
    assert [(i.section, i.text, i.done) for i in listed.items] == [
        ("", "before any heading", False),
        ("Queue", "  indented text", True),
    ]
    assert listed.render() == "- [ ] before any heading\n## Queue \n- [X]   indented text   \n"


def test_a_line_up_to_the_limit_is_an_item_and_a_longer_one_is_kept_as_text() -> None:
    at_limit = "- [ ] " + "a" * (MAX_LINE - 6)
    listed = parse_task_list(f"{at_limit}\n{at_limit}a\n")
    assert [len(i.text) for i in listed.items] == [MAX_LINE - 6]
    assert len(listed.lines) == 2


def test_ticking_marks_only_the_items_own_box() -> None:
    listed = parse_task_list("## Queue\n- [ ] keep `[ ]` in the text\n")
    ticked = listed.tick(listed.items[0])
    assert ticked.render() == "## Queue\n- [x] keep `[ ]` in the text\n"
    assert ticked.items[0].done


def test_worker_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="worker numbers start at 1, got 0"):
        task_list_filename(0)
