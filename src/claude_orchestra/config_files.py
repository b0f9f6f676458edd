"""Reading a config file: a regular file, capped, UTF-8, strict JSON; one line per failure.

Both config files are read here, so every way a file can be unreadable (missing, a folder,
a FIFO, a symlink to ``/dev/zero``, too large, not UTF-8, ``NaN``, an integer of 5,000
digits, nesting 10,000 deep) ends as a :class:`~claude_orchestra.errors.ConfigError`
naming the file, never a traceback. Messages name a position, never the text around it (it
may be a key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from claude_orchestra import strict_json
from claude_orchestra._safe_files import UnsafeFileError, read_capped
from claude_orchestra.errors import ConfigError

MAX_CONFIG_BYTES = 1024 * 1024
"""The largest config file read."""


def read_config_json(path: Path) -> Any:
    """The JSON document in ``path``.

    Raises:
        ConfigError: it cannot be read or is not JSON within the limits.
    """
    try:
        data = read_capped(path, MAX_CONFIG_BYTES, follow_symlinks=True)
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except UnsafeFileError as exc:
        raise ConfigError(path, [exc.reason]) from None
    except OSError as exc:
        raise ConfigError(path, [f"cannot be read ({exc.strerror})"]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [f"byte {exc.start}: not UTF-8"]) from None
    try:
        return strict_json.loads(text)
    except strict_json.StrictJSONError as exc:
        raise ConfigError(path, [str(exc)]) from None
