"""Secrets, however short, never reach the logs, the journal, the report or status.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.credentials import Secret, redact, redact_tree
from claude_orchestra.cli._logging import RedactingFilter
from claude_orchestra.journal import Journal, read_journal
from claude_orchestra.report import write_report
from claude_orchestra.values import Incident, IncidentKind

SHORT = Secret("k7")
LONG = Secret("sk-ant-abcdefghijklmnop")


def test_short_secrets_are_redacted_too() -> None:
    assert redact("key k7 and sk-ant-abcdefghijklmnop", [SHORT, LONG]) == "key *** and ***"


def test_the_log_filter_asks_for_the_secrets_issued_since() -> None:
    issued: list[Secret] = []
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", ("tok-1",), None)
    redacting = RedactingFilter(lambda: issued)
    issued.append(Secret("tok-1"))
    redacting.filter(record)
    assert record.getMessage() == "token ***"


def test_the_journal_is_redacted_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    incident = Incident(
        at=1.0,
        kind=IncidentKind.TASK_FILE_INVALID,
        instance="worker-1",
        evidence="the test printed sk-ant-abcdefghijklmnop and k7",
        action="none",
    )
    with Journal(path, ManualClock(), lambda: (SHORT, LONG)) as journal:
        journal.record(incident)
    text = path.read_text()
    assert "abcdefghijklmnop" not in text
    assert "k7" not in text
    (line,) = read_journal(path)
    assert line["evidence"] == "the test printed *** and ***"


def test_the_report_stays_valid_json_when_a_secret_is_a_json_character(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_report(path, {"incidents": [{"evidence": 'say "k7", 1'}]}, [SHORT, Secret(",")])
    assert json.loads(path.read_text()) == {"incidents": [{"evidence": 'say "***"*** 1'}]}


def test_trees_keep_their_shape() -> None:
    tree = {"a": ["k7", 1, None, {"k7": True}], "n": 2.5}
    assert redact_tree(tree, [SHORT]) == {"a": ["***", 1, None, {"***": True}], "n": 2.5}


def test_secrets_are_matched_literally_and_the_stars_put_in_are_left_alone() -> None:
    # one pass over the text: a secret of regex characters matches only itself, and a
    # secret that is a star does not blank the stars another secret left
    secrets = [Secret("a.b"), Secret("*"), Secret("sk-(1)")]
    assert redact("a.b axb sk-(1) *", secrets) == "*** axb *** ***"
    assert redact_tree({"x": ["a.b", "axb"]}, secrets) == {"x": ["***", "axb"]}
