"""Evidence as text: one line, bounded (for incidents and the report)."""

from __future__ import annotations


def clip(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def screen_evidence(text: str) -> str:
    """A pane's last non-empty lines on one line (labelled screen evidence)."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    shown = [line for line in lines if line.strip(" ─━│")]
    return clip(" / ".join(shown[-12:]), 1200)
