"""The machine-readable line at the end of every prompt the orchestrator sends.

Prompts are prose for the model; the last line repeats their facts as an HTML comment::

    <!-- orchestra {"action": "work", "worker": 1, "branch": "worker-1", "run_branch": "main"} -->

A real model reads it as a harmless comment; the scripted model in
:mod:`claude_orchestra.testing` reads it instead of the prose, so tests never depend on
wording. The journal also records it, so a resumed run knows what each prompt asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_TAG = re.compile(r"<!-- orchestra (?P<json>\{.*?\}) -->")


def render_prompt_tag(facts: Mapping[str, Any]) -> str:
    """The comment line carrying ``facts`` (JSON-serialisable, one line)."""
    return f"<!-- orchestra {json.dumps(dict(facts), sort_keys=True)} -->"


def parse_prompt_tag(text: str) -> dict[str, Any] | None:
    """The facts of the last tag in ``text``, or ``None`` when it carries none."""
    found = None
    for match in _TAG.finditer(text):
        try:
            value = json.loads(match["json"])
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            found = value
    return found
