"""Config folders: valid ones round-trip; invalid ones give `file: field: reason` lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_orchestra.auth.api_keys import parse_api_keys
from claude_orchestra.auth.credentials import CredentialKind, Secret
from claude_orchestra.auth.rotator import AuthMode
from claude_orchestra.config import OrchestraConfig, RunConfig
from claude_orchestra.config_load import dump_orchestrator_json, load_config, parse_orchestrator
from claude_orchestra.errors import ConfigError
from claude_orchestra.testing.strategies import (
    BREAKAGES,
    api_key_entries,
    orchestrator_documents,
)

MARKER = "zz9secretzz9"


def write(folder: Path, name: str, content: Any) -> None:
    text = content if isinstance(content, str) else json.dumps(content)
    (folder / name).write_text(text)


def problems(exc: ConfigError) -> list[str]:
    return str(exc).splitlines()


def test_the_original_tools_config_loads_with_defaults(tmp_path: Path) -> None:
    write(
        tmp_path,
        "orchestrator.json",
        {
            "repositoryUrl": "https://github.com/org/repo.git",
            "branch": "main",
            "workerCount": 2,
            "claudeConfigs": "~/.claude-configs/*.json",
            "hookServerPort": 3000,
            "healthCheckIntervalMs": 30000,
            "rateLimitCheckIntervalMs": 10000,
            "stuckThresholdMs": 300000,
            "maxToolUsesPerInstance": 500,
            "maxTotalToolUses": 2000,
            "maxRunDurationMinutes": 120,
            "cloneDepth": 1,
        },
    )
    write(
        tmp_path,
        "api-keys.json",
        [
            {"name": "z.ai-1", "primaryApiKey": "sk-ant-one", "source": "z.ai"},
            {"name": "key-1", "env": {"ANTHROPIC_API_KEY": "sk-ant-two"}},
            {
                "name": "gw",
                "env": {"ANTHROPIC_AUTH_TOKEN": "tok", "ANTHROPIC_BASE_URL": "https://gw"},
            },
        ],
    )
    config = load_config(tmp_path)
    assert config.orchestrator.worker_count == 2
    assert config.orchestrator.auth_mode is AuthMode.OAUTH
    assert config.orchestrator.clone_depth == 1
    assert config.workspace == (tmp_path / "workspace").resolve()
    assert [(c.name, c.kind, c.source) for c in config.credentials] == [
        ("z.ai-1", CredentialKind.API_KEY, "z.ai"),
        ("key-1", CredentialKind.ENV, None),
        ("gw", CredentialKind.ENV, None),
    ]
    gateway = config.credentials[2]
    assert gateway.base_url == "https://gw"
    assert gateway.environment() == {
        "ANTHROPIC_AUTH_TOKEN": "tok",
        "ANTHROPIC_BASE_URL": "https://gw",
    }
    assert isinstance(gateway.env["ANTHROPIC_AUTH_TOKEN"], Secret)
    assert "tok" not in repr(gateway)


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    write(tmp_path, "orchestrator.json", {"repositoryUrl": "../repo", "workspaceDir": "ws"})
    config = load_config(tmp_path)
    assert config.repository == str((tmp_path / "../repo").resolve())
    assert config.workspace == (tmp_path / "ws").resolve()
    assert config.with_workspace(tmp_path / "other").workspace == (tmp_path / "other").resolve()
    remote = RunConfig(
        config_dir=tmp_path, orchestrator=OrchestraConfig(repository_url="git@host:a/b.git")
    )
    assert remote.repository == "git@host:a/b.git"


def test_every_problem_is_reported_once_per_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "orchestrator.json",
        {"workerCount": 0, "hookServerPort": "x", "colour": "blue", "authMode": "all"},
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    path = tmp_path / "orchestrator.json"
    assert problems(caught.value) == [
        f"{path}: colour: unknown key",
        f"{path}: repositoryUrl: required",
        f"{path}: workerCount: must be between 1 and 20, got 0",
        f'{path}: hookServerPort: must be an integer, got "x"',
        f'{path}: authMode: must be one of oauth, api-keys-first, api-keys-only, got "all"',
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"repositoryUrl": "x",}', "line 1: Expecting property name enclosed in double quotes"),
        ("[]", "(top level): must be a JSON object"),
        ("", "line 1: Expecting value"),
    ],
)
def test_malformed_json(tmp_path: Path, content: str, reason: str) -> None:
    write(tmp_path, "orchestrator.json", content)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert problems(caught.value) == [f"{tmp_path / 'orchestrator.json'}: {reason}"]


def test_missing_files_and_folders(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"orchestrator\.json: file not found"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope")


def test_api_key_problems_never_quote_a_value(tmp_path: Path) -> None:
    secret = f"sk-ant-{MARKER}"
    write(tmp_path, "orchestrator.json", {"repositoryUrl": "x"})
    write(
        tmp_path,
        "api-keys.json",
        [
            {"name": "a", "primaryApiKey": secret, "extra": secret},
            {"name": "a", "apiKey": secret},
            {"name": "b", "env": {"ANTHROPIC_BASE_URL": secret}},
            {"name": "c", "apiKey": secret, "env": {"ANTHROPIC_API_KEY": secret}},
            {"name": "", "apiKey": 5},
        ],
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    path = tmp_path / "api-keys.json"
    assert problems(caught.value) == [
        f"{path}: [0].extra: unknown key",
        f"{path}: [1].name: duplicate name 'a'",
        f"{path}: [2].env: needs ANTHROPIC_AUTH_TOKEN or ANTHROPIC_API_KEY",
        f"{path}: [3]: needs exactly one of primaryApiKey, apiKey or env",
        f"{path}: [4].name: required, a non-empty string",
        f"{path}: [4].apiKey: must be a non-empty string",
    ]
    assert MARKER not in str(caught.value)


def test_a_broken_api_keys_file_does_not_echo_its_text(tmp_path: Path) -> None:
    write(tmp_path, "orchestrator.json", {"repositoryUrl": "x"})
    write(tmp_path, "api-keys.json", f'[{{"name": "a", "apiKey": "{MARKER}" oops}}]')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert MARKER not in str(caught.value)
    assert problems(caught.value) == [
        f"{tmp_path / 'api-keys.json'}: line 1: Expecting ',' delimiter"
    ]


def test_python_built_configs_are_validated_too() -> None:
    with pytest.raises(ValueError, match="between 1 and 20"):
        OrchestraConfig(repository_url="x", worker_count=40)
    with pytest.raises(ValueError, match="branch"):
        OrchestraConfig(repository_url="x", branch="-x")


@settings(max_examples=150)
@given(orchestrator_documents())
def test_valid_documents_round_trip(document: dict[str, Any]) -> None:
    config = parse_orchestrator(document)
    dumped = dump_orchestrator_json(config)
    assert parse_orchestrator(dumped) == config
    for key, value in document.items():
        assert dumped[key] == value


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    document=orchestrator_documents(),
    breakage=st.sampled_from(BREAKAGES),
    keys=api_key_entries(MARKER),
)
def test_invalid_documents_always_give_the_one_line_error(
    tmp_path: Path, document: dict[str, Any], breakage: tuple[str, Any, str], keys: Any
) -> None:
    key, value, reason = breakage
    write(tmp_path, "orchestrator.json", {**document, key: value})
    write(tmp_path, "api-keys.json", keys)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    lines = problems(caught.value)
    assert lines == [f"{tmp_path / 'orchestrator.json'}: {key}: {lines[0].split(': ', 2)[2]}"]
    assert reason in lines[0]
    assert MARKER not in str(caught.value)


@given(api_key_entries(MARKER))
def test_valid_key_lists_give_credentials_whose_reprs_hold_no_secret(
    entries: list[dict[str, Any]],
) -> None:
    credentials = parse_api_keys(entries, path="api-keys.json")
    assert [c.name for c in credentials] == [e["name"] for e in entries]
    for credential in credentials:
        assert MARKER not in repr(credential)
        assert all(MARKER in s.reveal() for s in credential.secrets())
