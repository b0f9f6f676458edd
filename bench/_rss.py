"""One process's peak memory, sampled from ``/proc/<pid>/status`` until it ends.

The kernel's own peak (``VmHWM``) is read while the process lives; the sampled ``VmRSS``
maximum is kept too, in case the last read misses the end. Only that process is counted:
not its children, not Claude Code's processes.
"""

from __future__ import annotations

import threading
from pathlib import Path


def _status_kb(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


class PeakRss:
    """Samples ``pid``'s memory every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self._pid = pid
        self._interval = interval
        self._rss_kb = 0
        self._hwm_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            values = _status_kb(self._pid)
            self._rss_kb = max(self._rss_kb, values.get("VmRSS", 0))
            self._hwm_kb = max(self._hwm_kb, values.get("VmHWM", 0))
            if self._stop.wait(self._interval):
                return

    def stop(self) -> dict[str, float]:
        """Stop sampling; ``{"peak_rss_mb", "max_sampled_rss_mb"}`` in MiB."""
        self._stop.set()
        self._thread.join()
        return {
            "peak_rss_mb": max(self._hwm_kb, self._rss_kb) / 1024,
            "max_sampled_rss_mb": self._rss_kb / 1024,
        }
