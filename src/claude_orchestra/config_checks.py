"""The checks on ``orchestrator.json``'s fields: attrs validators that raise the reason a
value is refused (``must be between 1 and 20, got 0``), for the file and for Python alike."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import attrs

from claude_orchestra.git.refnames import branch_problem

SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:.+$")
"""An scp-like git address (``git@host:org/repo.git``)."""


def between(low: int, high: int) -> Callable[[Any, attrs.Attribute[Any], int], None]:
    def check(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")

    return check


def at_least(low: float) -> Callable[[Any, attrs.Attribute[Any], float | None], None]:
    def check(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
        if value is not None and not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value:g}")
        if value is not None and value < low:
            raise ValueError(f"must be at least {low:g}, got {value:g}")

    return check


def positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value:g}")
    if not value > 0:
        raise ValueError(f"must be greater than 0, got {value:g}")


def fraction(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and 0 < value <= 1):
        raise ValueError(f"must be a share between 0 and 1, got {value:g}")


def repository_url(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise ValueError("must not be empty")
    schemes = ("https://", "http://", "ssh://", "git://", "file://")
    if not (value.startswith(schemes) or SCP_LIKE.match(value) or "://" not in value):
        raise ValueError("must be an https, ssh or file:// URL, or a local path")


def branch(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if reason := branch_problem(value):
        raise ValueError(f"is not a valid branch name: {reason}")


def workspace_dir(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (not value.strip() or not value.isprintable()):
        raise ValueError("must be a non-empty path without control characters")


def repo_path(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    parts = value.split("/")
    if not value or value.startswith("/") or ".." in parts or "" in parts or ".git" in parts:
        raise ValueError(f"must be a path inside the repository, got {value!r}")


def engine(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and value not in {"docker", "podman"}:
        raise ValueError(f"must be docker or podman, got {value!r}")


def image(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:@-]*", value):
        raise ValueError(f"is not an image reference: {value!r}")


def name(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", value):
        raise ValueError(f"must be a plugin strategy name (lowercase), got {value!r}")
