"""Where every benchmark writes what it measured: ``bench/results/<name>.json`` and ``.md``."""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def stamp() -> dict[str, Any]:
    """When and where: the date, the CPU count, the Python version and the load average
    (1, 5, 15 min) as the results are written."""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "load_average": os.getloadavg(),
    }


def load() -> float:
    """The 1-minute load average now."""
    return os.getloadavg()[0]


def load_note(before: float) -> str:
    """``load average (1 min) X before, Y after, on N CPUs`` (after: now)."""
    return f"load average (1 min) {before:.2f} before, {load():.2f} after, on {os.cpu_count()} CPUs"


def spread(values: Sequence[float], unit: str = "", digits: int = 1) -> str:
    """``median (min-max)``, the single value for one round, or a dash for none."""
    if not values:
        return "-"
    middle = f"{statistics.median(values):.{digits}f}{unit}"
    if len(values) < 2:
        return middle
    return f"{middle} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def write_results(name: str, result: dict[str, Any], table: list[str]) -> None:
    """Write the JSON (every round) and the Markdown table, and print the table."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
