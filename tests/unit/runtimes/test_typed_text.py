"""Typed text: no escape or control character reaches a pane but newline and tab."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra.runtimes.typed_text import REPLACEMENT, plain_text


def test_an_end_of_paste_sequence_cannot_turn_into_keys() -> None:
    typed = plain_text("task\x1b[201~\r\x03rm -rf /\r\n\x1b[200~")
    assert "\x1b" not in typed
    assert "\x03" not in typed
    assert "\r" not in typed
    assert typed == f"task{REPLACEMENT}[201~\n{REPLACEMENT}rm -rf /\n{REPLACEMENT}[200~"


def test_newlines_tabs_and_ordinary_unicode_are_kept() -> None:
    text = "line one\n\tindented — “quoted” ✓ 日本"
    assert plain_text(text) == text


def test_del_and_c1_controls_are_replaced() -> None:
    r = REPLACEMENT
    assert plain_text("a\x7fb\x9bc\x85d\x00e") == f"a{r}b{r}c{r}d{r}e"


@given(st.text())
def test_no_control_character_but_newline_and_tab_survives(text: str) -> None:
    typed = plain_text(text)
    assert all(c in "\n\t" or not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) for c in typed)
    assert plain_text(typed) == typed
