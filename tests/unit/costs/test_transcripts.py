"""The usage ledger counts each response once, whatever the file looks like."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from claude_orchestra.costs.transcripts import DEFAULT_PRICES, Usage, UsageLedger


def assistant(message_id: str, usage: dict[str, int], model: str = "claude-opus-5-5") -> str:
    return json.dumps(
        {
            "type": "assistant",
            "requestId": f"req_{message_id}",
            "message": {"id": message_id, "model": model, "usage": usage, "content": []},
        }
    )


USAGE = {
    "input_tokens": 2500,
    "output_tokens": 63,
    "cache_read_input_tokens": 8300,
    "cache_creation_input_tokens": 300,
}


def test_the_cli_figure_is_matched(tmp_path: Path) -> None:
    # claude-code-facts §6: this usage cost exactly $0.01442 in total_cost_usd.
    path = tmp_path / "s.jsonl"
    path.write_text(assistant("m1", USAGE) + "\n" + assistant("m1", USAGE) + "\n")
    ledger = UsageLedger()
    ledger.read([path])
    assert ledger.responses == 1
    assert ledger.cost(DEFAULT_PRICES) == 0.01442


def test_synthetic_lines_and_unpriced_models(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(
        "\n".join(
            [
                assistant("e1", USAGE, model="<synthetic>"),
                assistant("m2", USAGE, model="some-new-model"),
                '{"type": "user", "message": {"content": "hi"}}',
                "not json",
            ]
        )
        + "\n"
    )
    ledger = UsageLedger()
    ledger.read([path])
    assert ledger.responses == 1
    assert ledger.cost(DEFAULT_PRICES) is None
    assert ledger.total == Usage.from_api(USAGE)


lines = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 1000)), max_size=20
)


@settings(max_examples=60)
@given(entries=lines, cuts=st.lists(st.integers(0, 4000), max_size=5))
def test_reading_in_pieces_gives_the_same_totals(
    tmp_path_factory: object, entries: list[tuple[str, int]], cuts: list[int]
) -> None:
    folder = tmp_path_factory.mktemp("ledger")  # type: ignore[attr-defined]
    text = "".join(
        assistant(mid, {"input_tokens": n, "output_tokens": 1}) + "\n" for mid, n in entries
    ).encode()
    whole = UsageLedger()
    full = folder / "full.jsonl"
    full.write_bytes(text)
    whole.read([full])
    growing = folder / "growing.jsonl"
    growing.write_bytes(b"")
    pieces = UsageLedger()
    for cut in [*sorted(min(c, len(text)) for c in cuts), len(text)]:
        growing.write_bytes(text[:cut])  # a writer mid-line leaves a partial last line
        pieces.read([growing])
    assert pieces.total == whole.total
    first = {}
    for mid, n in entries:
        first.setdefault(mid, n)
    assert whole.total.input_tokens == sum(first.values())
