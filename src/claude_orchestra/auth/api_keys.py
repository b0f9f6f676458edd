"""``api-keys.json``: the credentials to rotate through, in the original tool's shapes.

A JSON list; each entry is one of::

    {"name": "k1", "primaryApiKey": "sk-ant-...", "source": "console"}
    {"name": "k2", "apiKey": "sk-ant-..."}
    {"name": "zai", "env": {"ANTHROPIC_AUTH_TOKEN": "...", "ANTHROPIC_BASE_URL": "https://..."}}

Errors name the entry and field (``api-keys.json: [1].name: duplicate name "k1"``) and
never quote a value from the file other than a duplicated name.

``env`` sets only variables that choose a provider or authenticate with it
(:func:`env_name_problem`): ``ANTHROPIC_*``, ``CLAUDE_CODE_OAUTH_TOKEN``, the Bedrock and
Vertex switches and their cloud credentials, and the proxy variables. Anything else could
undo what the orchestrator sets for an instance (``CLAUDE_CONFIG_DIR``, the hook token,
``PATH``, ``HOME``) or run code in it (``LD_PRELOAD``, ``NODE_OPTIONS``, ``BASH_ENV``).
Names are printable: no control character or escape reaches a terminal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from claude_orchestra.auth.credentials import (
    SECRET_ENV_NAMES,
    Credential,
    CredentialKind,
    Secret,
)
from claude_orchestra.config_files import read_config_json
from claude_orchestra.errors import ConfigError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROVIDER_PREFIX = "ANTHROPIC_"
PROVIDER_ENV_NAMES = frozenset(
    {
        "CLAUDE_CODE_OAUTH_TOKEN",
        "CLAUDE_CODE_USE_BEDROCK",
        "CLAUDE_CODE_USE_VERTEX",
        "CLAUDE_CODE_SKIP_BEDROCK_AUTH",
        "CLAUDE_CODE_SKIP_VERTEX_AUTH",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_BEARER_TOKEN_BEDROCK",
        "CLOUD_ML_REGION",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "NO_PROXY",
    }
)
"""Besides ``ANTHROPIC_*``, the variables an ``env`` entry may set."""
_SECRET_PART = re.compile(r"KEY|TOKEN|SECRET|HEADERS")
MAX_NAME = 100
"""The longest credential name."""


def env_name_problem(name: str) -> str | None:
    """Why an ``env`` entry may not set ``name``, or ``None`` when it may."""
    if not _ENV_NAME.fullmatch(name):
        return "is not a variable name"
    if name.startswith(_PROVIDER_PREFIX) or name in PROVIDER_ENV_NAMES:
        return None
    return "is not a provider variable (ANTHROPIC_*, CLAUDE_CODE_OAUTH_TOKEN, AWS_*, ...)"


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a credential, or ``None``."""
    if not name.strip():
        return "required, a non-empty string"
    if len(name) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    if not name.isprintable():
        return "must be printable (no control characters, escapes or newlines)"
    return None


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
        if reason := env_name_problem(key):
            shown = key[:40] if key.isprintable() else "(a name with control characters)"
            problems.append(f"{at}.env: {shown!r} {reason}")
        elif not isinstance(value, str) or "\x00" in value:
            problems.append(f"{at}.env.{key}: must be a string without a NUL byte")
        else:
            secret = key in SECRET_ENV_NAMES or _SECRET_PART.search(key)
            env[key] = Secret(value) if secret else value
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
    if not isinstance(name, str):
        problems.append(f"{at}.name: required, a non-empty string")
    elif reason := name_problem(name):
        problems.append(f"{at}.name: {reason}")
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
        elif "\x00" in key:
            problems.append(f"{at}.{given[0]}: must not hold a NUL byte")
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
        if isinstance(name, str) and name_problem(name) is None:
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
    return parse_api_keys(read_config_json(path), path=path)
