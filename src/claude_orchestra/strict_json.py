"""JSON from untrusted sources, refused cleanly when it is not plain data.

:func:`loads` is :func:`json.loads` with limits: ``NaN``, ``Infinity`` and numbers that
overflow a float (``1e400``) are refused, so are numbers longer than
:data:`MAX_NUMBER_LENGTH` characters (Python refuses integers over 4,300 digits with a
``ValueError`` of its own) and documents nested deeper than a limit. Every refusal is a
:class:`StrictJSONError`, a ``ValueError``; nothing else escapes but ``UnicodeDecodeError``
for bytes that are not UTF-8, which is a ``ValueError`` too.
"""

from __future__ import annotations

import json
import math
from typing import Any, final

MAX_NUMBER_LENGTH = 100
"""Characters in one number literal."""

MAX_DEPTH = 64
"""Nested arrays and objects."""


@final
class StrictJSONError(ValueError):
    """The text is not JSON we accept; ``lineno`` is set when the parser knew the line."""

    def __init__(self, reason: str, lineno: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.lineno = lineno

    def __str__(self) -> str:
        return self.reason if self.lineno is None else f"line {self.lineno}: {self.reason}"


def _constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not a number JSON allows")


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise StrictJSONError(f"a number longer than {MAX_NUMBER_LENGTH} characters")
    value = float(text)
    if not math.isfinite(value):
        raise StrictJSONError(f"{text[:20]} is too large for a number")
    return value


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        raise StrictJSONError(f"a number longer than {MAX_NUMBER_LENGTH} characters")
    return int(text)


def depth(value: object) -> int:
    """How deeply arrays and objects nest in ``value`` (a scalar: 0); iterative."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children)
    return deepest


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` (bytes must be UTF-8).

    Raises:
        StrictJSONError: not JSON, or not within the limits above.
        UnicodeDecodeError: ``data`` is bytes that are not UTF-8.
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise StrictJSONError(exc.msg, exc.lineno) from exc
    except RecursionError as exc:
        raise StrictJSONError(f"nested deeper than {max_depth} levels") from exc
    if depth(value) > max_depth:
        raise StrictJSONError(f"nested deeper than {max_depth} levels")
    return value
