"""When a limit lifts, read from the text Claude Code shows.

Claude Code 2.1.328 words a subscription limit as ``You've hit your 5-hour limit · resets
3:25am (UTC)`` or ``... resets Nov 26, 9am (UTC)``, and its auto-continue line as
``continuing automatically at 3:25am``. :func:`parse_reset_time` turns such text into the
next matching wall-clock time; it returns ``None`` when the text names no time.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RESET = re.compile(
    r"(?:resets|at)\s+"
    r"(?:(?P<month>[A-Z][a-z]{2})\s+(?P<day>\d{1,2}),?\s+)?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>am|pm)"
    r"(?:\s*\((?P<zone>[^)]+)\))?",
    re.IGNORECASE,
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}


def parse_reset_time(text: str, *, now: float) -> float | None:
    """The epoch seconds at which the limit described by ``text`` resets, if it says.

    Args:
        text: what Claude Code showed (a StopFailure's detail, or screen text).
        now: the current epoch time; a time without a date is the next one after it
            (or the end of the current minute, which the text's precision cannot tell
            from now).
    """
    match = _RESET.search(text)
    if match is None:
        return None
    try:
        zone = ZoneInfo(match["zone"].strip()) if match["zone"] else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    hour = int(match["hour"]) % 12 + (12 if match["ampm"].lower() == "pm" else 0)
    minute = int(match["minute"] or 0)
    current = dt.datetime.fromtimestamp(now, zone)
    if match["month"]:
        month = _MONTHS.get(match["month"].lower())
        if month is None:
            return None
        candidate = current.replace(
            month=month, day=int(match["day"]), hour=hour, minute=minute, second=0, microsecond=0
        )
        if candidate.timestamp() < now - 86400:
            candidate = candidate.replace(year=candidate.year + 1)
        return candidate.timestamp()
    candidate = current.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if now - 60 < candidate.timestamp() <= now:
        # The text has minute precision and was written moments ago: the reset is within
        # the minute shown, not tomorrow. Take the minute's end.
        return candidate.timestamp() + 60
    if candidate.timestamp() <= now:
        candidate += dt.timedelta(days=1)
    return candidate.timestamp()
