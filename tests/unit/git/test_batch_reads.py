"""Taking each branch's range out of one ``rev-list --timestamp --parents`` of them all, in
the order ``rev-list --reverse base..tip`` gives (no git)."""

from __future__ import annotations

from claude_orchestra.git.batch_reads import split_ranges

# a1 <- a2 (tip A); b1 <- b2 <- m (tip B, m also merges a1); c (tip C) is below the base.
LISTING = "5 m b2 a1\n4 b2 b1\n3 a2 a1\n2 b1 base\n1 a1 base\n"


def test_each_tip_gets_what_it_reaches_oldest_first() -> None:
    ranges = split_ranges(LISTING, ["a2", "m"])
    assert ranges == {"a2": ("a1", "a2"), "m": ("a1", "b1", "b2", "m")}


def test_a_tip_the_listing_lacks_has_an_empty_range() -> None:
    assert split_ranges(LISTING, ["c"]) == {"c": ()}
    assert split_ranges("", ["a2"]) == {"a2": ()}


def test_a_tip_inside_another_range_gets_only_its_own_ancestors() -> None:
    assert split_ranges(LISTING, ["b2"]) == {"b2": ("b1", "b2")}


def test_parents_the_base_reaches_are_not_followed() -> None:
    assert split_ranges("1 x base other\n", ["x"]) == {"x": ("x",)}


def test_a_child_comes_after_its_parent_whatever_the_listing_order() -> None:
    # One second for all: the union listed w1's tip before w2's own commit on top of it.
    listing = "7 w1b w1a\n7 w2 w1b\n7 w1a base\n"
    assert split_ranges(listing, ["w2", "w1b"]) == {
        "w2": ("w1a", "w1b", "w2"),
        "w1b": ("w1a", "w1b"),
    }


def test_equal_times_keep_the_order_the_parents_were_queued_in() -> None:
    # m merges x and y (one second for all): git queues x, then y, and shows them so.
    listing = "3 m x y\n3 y base\n3 x base\n"
    assert split_ranges(listing, ["m"]) == {"m": ("y", "x", "m")}


def test_a_newer_commit_waiting_goes_first() -> None:
    listing = "9 m x y\n2 x base\n5 y base\n"
    assert split_ranges(listing, ["m"]) == {"m": ("x", "y", "m")}
