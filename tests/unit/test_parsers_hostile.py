"""The task file and task lists against what a hostile worker can merge: linear time,
capped sizes, no recursion, and no exception but the parser's own."""

from __future__ import annotations

import contextlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_orchestra.errors import TaskFileError
from claude_orchestra.taskfile import MAX_BYTES, MAX_LINE, parse_task_file
from claude_orchestra.tasklists import parse_task_list

# Every line below was quadratic (or worse) in the old patterns: 30 s for 50k spaces.
SLOW_LINES = [
    "- [ ] a" + " " * 9_000 + "b",
    "# " + " " * 9_000 + "x",
    "## [ ] a" + " " * 9_000 + "b",
    "- [ ] a " + "{" * 9_000,
    "- [ ] a " + "{x " * 3_000,
    "- [ ] a" + " " * 9_000 + "}",
    " " * 9_000 + "-",
]


@pytest.mark.parametrize("line", SLOW_LINES)
def test_long_lines_parse_in_linear_time(line: str) -> None:
    text = "\n".join([line] * 50)
    started = time.perf_counter()
    with contextlib.suppress(TaskFileError):  # refusing is fine; taking seconds is not
        parse_task_file(text)
    parse_task_list(text)
    assert time.perf_counter() - started < 2.0


def test_a_line_over_the_cap_is_refused_with_its_number() -> None:
    with pytest.raises(TaskFileError) as caught:
        parse_task_file("- [ ] fine\n- [ ] " + "x" * MAX_LINE)
    assert (caught.value.line, caught.value.field) == (2, "line")
    assert "longer than" in str(caught.value)


def test_a_file_over_the_cap_is_refused() -> None:
    with pytest.raises(TaskFileError) as caught:
        parse_task_file("- [ ] x\n" * (MAX_BYTES // 8 + 1))
    assert caught.value.field == "file"


def test_a_long_dependency_chain_is_checked_without_recursion() -> None:
    count = 5_000
    lines = [f"- [ ] task {n} {{#t{n} after: t{n + 1}}}" for n in range(count - 1)]
    lines.append(f"- [ ] task {count - 1} {{#t{count - 1}}}")
    parsed = parse_task_file("\n".join(lines))
    assert len(parsed.tasks) == count
    lines[-1] = f"- [ ] task {count - 1} {{#t{count - 1} after: t0}}"
    with pytest.raises(TaskFileError, match="a cycle"):
        parse_task_file("\n".join(lines))


def test_attributes_still_split_as_before() -> None:
    parsed = parse_task_file(
        "- [ ] Write it   {#w}  \n- [ ] {braces} in text\n## [ ]   Doc it {#d after: w}\n"
    )
    assert [(t.key, t.text, t.after) for t in parsed.tasks] == [
        ("w", "Write it", ()),
        ("{braces} in text", "{braces} in text", ()),
        ("d", "Doc it", ("w",)),
    ]


@settings(deadline=None, max_examples=300)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=" -*[]xX#{}:,\t\n\r\x0babc1.", max_size=60),
            st.sampled_from(["- [ ] a {#a}", "- [ ] b {after: a}", "## [x] c", "  d"]),
        ),
        max_size=40,
    )
)
def test_any_text_parses_or_is_a_task_file_error(lines: list[str]) -> None:
    text = "\n".join(lines)
    started = time.perf_counter()
    with contextlib.suppress(TaskFileError):
        parse_task_file(text)
    parse_task_list(text)
    assert time.perf_counter() - started < 5.0
