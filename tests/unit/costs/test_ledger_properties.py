"""Property tests of the usage ledger: however the transcripts are laid out, duplicated,
interleaved, resumed, split into sub-agent files or caught half-written, the totals are the
sum of the distinct responses."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_orchestra.costs.transcripts import Usage, UsageLedger


@attrs.frozen
class Response:
    message_id: str
    model: str
    usage: Usage
    blocks: int


counts = st.integers(min_value=0, max_value=50_000)
responses = st.lists(
    st.builds(
        Response,
        message_id=st.uuids().map(lambda u: f"msg_{u.hex[:20]}"),
        model=st.sampled_from(["claude-opus-5-5", "claude-haiku-4-5", "<synthetic>"]),
        usage=st.builds(
            Usage,
            input_tokens=counts,
            output_tokens=counts,
            cache_creation_input_tokens=counts,
            cache_read_input_tokens=counts,
        ),
        blocks=st.integers(min_value=1, max_value=4),
    ),
    max_size=25,
    unique_by=lambda r: r.message_id,
)


def lines_of(response: Response, session: str, *, sidechain: bool) -> list[str]:
    """One line per content block, each with the same id and full usage (as Claude Code)."""
    entry = {
        "type": "assistant",
        "sessionId": session,
        "isSidechain": sidechain,
        "requestId": f"req_{response.message_id[4:]}",
        "message": {
            "id": response.message_id,
            "model": response.model,
            "usage": attrs.asdict(response.usage),
            "content": [{"type": "text", "text": "..."}],
        },
    }
    return [json.dumps(entry)] * response.blocks


NOISE = [
    json.dumps({"type": "user", "message": {"role": "user", "content": "go"}}),
    json.dumps({"type": "system", "subtype": "turn_duration"}),
    json.dumps({"type": "attachment", "attachment": {"type": "x"}}),
]


def expected(rs: list[Response]) -> Usage:
    return sum((r.usage for r in rs if r.model != "<synthetic>"), Usage())


@settings(max_examples=60, deadline=None)
@given(
    rs=responses,
    layout=st.data(),
)
def test_totals_are_the_distinct_responses_however_they_are_written(
    rs: list[Response], layout: st.DataObject
) -> None:
    # each response goes to one of three files: two sessions and a sub-agent's file
    files = ["s1.jsonl", "s2.jsonl", "s1/subagents/agent-a.jsonl"]
    placed: dict[str, list[str]] = {f: [] for f in files}
    for response in rs:
        where = layout.draw(st.sampled_from(files))
        placed[where] += lines_of(response, where, sidechain="subagents" in where)
        placed[where].append(layout.draw(st.sampled_from(NOISE)))
    # a resumed session: an earlier file's lines again, in a copy under another project
    copied = layout.draw(st.sampled_from(files))
    placed["other-project/resumed.jsonl"] = list(placed[copied])
    # some lines written twice
    for name in list(placed):
        doubled = layout.draw(st.lists(st.integers(0, 100), max_size=3))
        for index in doubled:
            if placed[name]:
                line = placed[name][index % len(placed[name])]
                placed[name].insert(index % len(placed[name]), line)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ledger = UsageLedger()
        seen = Usage()
        for name, lines in placed.items():
            text = "".join(line + "\n" for line in lines).encode()
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            # the file is caught half-written: a cut anywhere, even inside a line
            cut = layout.draw(st.integers(0, len(text)))
            path.write_bytes(text[:cut])
            seen += sum(ledger.read_tree(root).values(), Usage())
            with path.open("ab") as f:
                f.write(text[cut:])
        seen += sum(ledger.read_tree(root).values(), Usage())
        assert ledger.total == expected(rs)
        assert seen == ledger.total  # what each read returned adds up to the totals
        assert ledger.responses == sum(1 for r in rs if r.model != "<synthetic>")
        assert ledger.read_tree(root) == {}  # nothing new, nothing counted


@settings(max_examples=40, deadline=None)
@given(rs=responses, order=st.randoms(use_true_random=False))
def test_the_order_of_sessions_does_not_matter(rs: list[Response], order: object) -> None:
    lines = [line for r in rs for line in lines_of(r, "s", sidechain=False)]
    shuffled = list(lines)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    totals = []
    with tempfile.TemporaryDirectory() as folder:
        for name, content in (("a.jsonl", lines), ("b.jsonl", shuffled)):
            path = Path(folder) / name
            path.write_text("".join(line + "\n" for line in content))
            ledger = UsageLedger()
            ledger.read([path])
            totals.append(ledger.total)
    assert totals[0] == totals[1] == expected(rs)
