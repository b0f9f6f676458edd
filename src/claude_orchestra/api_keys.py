"""``api-keys.json``: the credentials to rotate through, in the original tool's shapes.

A JSON list; each entry is one of::

    {"name": "k1", "primaryApiKey": "sk-ant-...", "source": "console"}
    {"name": "k2", "apiKey": "sk-ant-..."}
    {"name": "zai", "env": {"ANTHROPIC_AUTH_TOKEN": "...", "ANTHROPIC_BASE_URL": "https://..."}}

Errors name the entry and field (``api-keys.json: [1].name: duplicate name "k1"``) and
never quote a value from the file other than a duplicated name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from claude_orchestra.credentials import (
    SECRET_ENV_NAMES,
    Credential,
    CredentialKind,
    Secret,
)
from claude_orchestra.errors import ConfigError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_FIELDS = ("primaryApiKey", "apiKey")
_ALLOWED = {"name", "source", "env", *_KEY_FIELDS}
_TOKEN_NAMES = ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY")


def _environment(at: str, values: Any, problems: list[str]) -> dict[str, Secret | str]:
    """An ``env`` object's variables; secrets wrapped, problems appended (values unquoted)."""
    if not isinstance(values, dict):
        problems.append(f"{at}.env: must be an object of environment variables")
        return {}
    env: dict[str, Secret | str] = {}
    for key, value in values.items():
        if not _ENV_NAME.fullmatch(key):
            problems.append(f"{at}.env: {key[:40]!r} is not a variable name")
        elif not isinstance(value, str):
            problems.append(f"{at}.env.{key}: must be a string")
        else:
            env[key] = Secret(value) if key in SECRET_ENV_NAMES else value
    if not any(name in values for name in _TOKEN_NAMES):
        problems.append(f"{at}.env: needs ANTHROPIC_AUTH_TOKEN or ANTHROPIC_API_KEY")
    return env


def _entry(index: int, raw: Any, problems: list[str]) -> Credential | None:
    at = f"[{index}]"
    if not isinstance(raw, dict):
        problems.append(f"{at}: must be an object")
        return None
    before = len(problems)
    problems.extend(f"{at}.{key}: unknown key" for key in raw if key not in _ALLOWED)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{at}.name: required, a non-empty string")
    source = raw.get("source")
    if source is not None and not isinstance(source, str):
        problems.append(f"{at}.source: must be a string")
    given = [k for k in (*_KEY_FIELDS, "env") if k in raw]
    if len(given) != 1:
        problems.append(f"{at}: needs exactly one of primaryApiKey, apiKey or env")
        return None
    if given[0] == "env":
        kind = CredentialKind.ENV
        env = _environment(at, raw["env"], problems)
    else:
        kind = CredentialKind.API_KEY
        key = raw[given[0]]
        env = {}
        if not isinstance(key, str) or not key.strip():
            problems.append(f"{at}.{given[0]}: must be a non-empty string")
        else:
            env["ANTHROPIC_API_KEY"] = Secret(key)
    if len(problems) > before or not isinstance(name, str):
        return None
    return Credential(
        name=name, kind=kind, env=env, source=source if isinstance(source, str) else None
    )


def parse_api_keys(data: Any, *, path: Path | str) -> tuple[Credential, ...]:
    """``api-keys.json``'s decoded JSON as credentials, in file order.

    Raises:
        ConfigError: one line per problem; values are never quoted.
    """
    if not isinstance(data, list):
        raise ConfigError(path, ["(top level): must be a JSON list of entries"])
    problems: list[str] = []
    credentials: list[Credential] = []
    seen: set[str] = set()
    for index, raw in enumerate(data):
        credential = _entry(index, raw, problems)
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and name.strip():
            if name in seen:
                problems.append(f"[{index}].name: duplicate name {name[:40]!r}")
            seen.add(name)
        if credential is not None:
            credentials.append(credential)
    if problems:
        raise ConfigError(path, problems)
    return tuple(credentials)


def load_api_keys_json(path: Path) -> tuple[Credential, ...]:
    """Read and check ``api-keys.json``.

    Raises:
        ConfigError: the file is malformed or an entry is bad (values never quoted).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot be read ({exc.strerror})"]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # The message names a position, never the text around it (it may be a key).
        raise ConfigError(path, [f"line {exc.lineno}: {exc.msg}"]) from None
    return parse_api_keys(data, path=path)
