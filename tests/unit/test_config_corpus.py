"""The config corpus of issue #14: every bad ``orchestrator.json`` / ``api-keys.json`` is
one ``file: field: reason`` line and exit 2 from ``validate``, never a traceback, never a
harmful config accepted, and ``validate`` prints nothing secret."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_orchestra.auth.api_keys import env_name_problem
from claude_orchestra.cli import main
from claude_orchestra.config import workspace_problem
from claude_orchestra.config_load import load_config
from claude_orchestra.errors import ConfigError
from claude_orchestra.git.refnames import MAX_BRANCH_BYTES, branch_problem

GOOD = {"repositoryUrl": "https://github.com/org/repo.git"}


def validate(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["validate", "--config", str(folder)])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_exit_2(folder: Path, capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    code, out, err = validate(folder, capsys)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b'{"repositoryUrl": "\xff\xfe"}', "not UTF-8"),
        (b'{"repositoryUrl": "x", "workerCount": ' + b"9" * 5000 + b"}", "longer than"),
        (b'{"repositoryUrl": "x", "maxRunDurationMinutes": Infinity}', "Infinity"),
        (b'{"repositoryUrl": "x", "maxRunDurationMinutes": NaN}', "NaN"),
        (b'{"repositoryUrl": "x", "maxRunDurationMinutes": 1e999}', "too large"),
        (b'{"repositoryUrl": "x", "a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested deeper"),
        (b" " * (2 * 1024 * 1024), "larger than"),
    ],
)
def test_unreadable_documents_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: bytes, needle: str
) -> None:
    (tmp_path / "orchestrator.json").write_bytes(raw)
    one_line_exit_2(tmp_path, capsys, "orchestrator.json", needle)


@pytest.mark.parametrize("name", ["orchestrator.json", "api-keys.json"])
def test_a_file_linked_to_dev_zero_or_a_fifo_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    if name == "api-keys.json":
        (tmp_path / "orchestrator.json").write_text(json.dumps(GOOD))
    (tmp_path / name).symlink_to("/dev/zero")
    one_line_exit_2(tmp_path, capsys, name, "not a regular file")
    (tmp_path / name).unlink()
    os.mkfifo(tmp_path / name)
    one_line_exit_2(tmp_path, capsys, name, "not a regular file")


@pytest.mark.parametrize(
    ("settings_", "field", "needle"),
    [
        ({"workspaceDir": "/"}, "workspaceDir", "root"),
        ({"workspaceDir": "~"}, "workspaceDir", "home"),
        ({"workspaceDir": "."}, "workspaceDir", "config folder"),
        ({"workspaceDir": ".."}, "workspaceDir", "config folder"),
        ({"workspaceDir": "/etc/x"}, "workspaceDir", "system folder"),
        ({"workspaceDir": "/usr"}, "workspaceDir", "system folder"),
        ({"workspaceDir": "ws\u0000x"}, "workspaceDir", "NUL"),
        ({"workspaceDir": "ws\nx"}, "workspaceDir", "control"),
        ({"repositoryUrl": "/r\u0000"}, "repositoryUrl", "NUL"),
        ({"branch": "@"}, "branch", "not a valid branch name"),
        ({"branch": "HEAD"}, "branch", "not a valid branch name"),
        ({"branch": "a/.b"}, "branch", "not a valid branch name"),
        ({"branch": "x.lock/y"}, "branch", "not a valid branch name"),
        ({"branch": "a\u0001b"}, "branch", "not a valid branch name"),
        ({"branch": "b" * 1_000_000}, "branch", f"longer than {MAX_BRANCH_BYTES}"),
        ({"maxRunDurationMinutes": -1}, "maxRunDurationMinutes", "greater than 0"),
        ({"prices": {"m": {"input": -1, "output": 1, "cacheWrite": 1, "cacheRead": 1}}},
         "prices.m.input", "0 or more"),
        ({"budget": {"usd": -5}}, "budget.usd", "greater than 0"),
    ],
)  # fmt: skip
def test_harmful_settings_are_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    settings_: dict[str, Any],
    field: str,
    needle: str,
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "orchestrator.json").write_text(json.dumps({**GOOD, **settings_}))
    err = one_line_exit_2(config, capsys, f"orchestrator.json: {field}", needle)
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CLAUDE_CONFIG_DIR": "/tmp/x"}, "CLAUDE_CONFIG_DIR"),
        ({"LD_PRELOAD": "/tmp/evil.so"}, "LD_PRELOAD"),
        ({"CLAUDE_ORCHESTRA_HOOK_TOKEN": "t"}, "CLAUDE_ORCHESTRA_HOOK_TOKEN"),
        ({"PATH": "/tmp"}, "PATH"),
        ({"HOME": "/tmp"}, "HOME"),
        ({"NODE_OPTIONS": "--require /tmp/x.js"}, "NODE_OPTIONS"),
        ({"BASH_ENV": "/tmp/x"}, "BASH_ENV"),
        ({"DYLD_INSERT_LIBRARIES": "/x"}, "DYLD_INSERT_LIBRARIES"),
        ({"A\u001b[31mB": "x"}, "control characters"),
    ],
)
def test_reserved_variables_are_refused_in_api_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], env: dict[str, str], needle: str
) -> None:
    (tmp_path / "orchestrator.json").write_text(json.dumps(GOOD))
    entry = {"name": "k", "env": {"ANTHROPIC_API_KEY": "sk-ant-zz9", **env}}
    (tmp_path / "api-keys.json").write_text(json.dumps([entry]))
    err = one_line_exit_2(tmp_path, capsys, "api-keys.json: [0].env", needle)
    assert "\x1b" not in err
    assert "zz9" not in err


@pytest.mark.parametrize("name", ["a\u001b[2Jb", "line\nbreak", "tab\there", "x" * 101, " "])
def test_credential_names_are_printable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    (tmp_path / "orchestrator.json").write_text(json.dumps(GOOD))
    (tmp_path / "api-keys.json").write_text(json.dumps([{"name": name, "apiKey": "sk-ant-q"}]))
    err = one_line_exit_2(tmp_path, capsys, "api-keys.json: [0].name")
    assert "\x1b" not in err
    assert len(err.splitlines()) == 1


def test_provider_variables_are_allowed() -> None:
    for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "CLAUDE_CODE_OAUTH_TOKEN", "AWS_REGION"):
        assert env_name_problem(name) is None, name


@pytest.mark.claude  # validate's preflight runs the pinned Claude Code's --version
def test_validate_prints_no_token_of_the_repository_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {"repositoryUrl": "https://ghp_zz9secret@github.com/org/repo.git"}
    (tmp_path / "orchestrator.json").write_text(json.dumps(document))
    key = {"name": "k", "primaryApiKey": "sk-ant-corpus-" + "4" * 32}
    (tmp_path / "api-keys.json").write_text(json.dumps([key]))  # validate wants a login too
    code, out, err = validate(tmp_path, capsys)
    assert code == 0, err
    assert "zz9secret" not in out + err
    assert "https://***@github.com/org/repo.git" in out


def test_a_nul_byte_in_the_config_path_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    one_line_exit_2(Path("conf\x00ig"), capsys, "NUL")


def test_the_workspace_may_live_inside_the_config_folder_or_beside_it(tmp_path: Path) -> None:
    assert workspace_problem(tmp_path / "config" / "workspace", tmp_path / "config") is None
    assert workspace_problem(tmp_path / "ws", tmp_path / "config") is None
    assert workspace_problem(tmp_path, tmp_path / "config") is not None


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet=st.sampled_from(list("ab./-@{}~^:?*[]\\ \t\x01\x7féHEADlock")), max_size=12)
)
def test_branch_rules_agree_with_git(tmp_path_factory: pytest.TempPathFactory, name: str) -> None:
    """git itself decides (in a repository: ``--branch`` expands ``@`` and ``@{-N}``, which
    a run branch may never be, so those are refused here whatever git says)."""
    if "\x00" in name:
        return
    repo = tmp_path_factory.getbasetemp() / "refcheck"
    if not repo.exists():
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
    git = subprocess.run(
        ["git", "check-ref-format", "--branch", name], cwd=repo, capture_output=True, check=False
    )
    ours = branch_problem(name) is None
    if name == "@":
        assert not ours
    else:
        assert ours == (git.returncode == 0), (name, git.stdout, git.stderr)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=6)
    ),
    max_leaves=25,
)


_FIELDS = ("workerCount", "branch", "workspaceDir", "budget", "prices", "maxRunDurationMinutes")
orchestrator_documents = st.fixed_dictionaries(
    {"repositoryUrl": st.sampled_from(["https://h/r.git", "/r", 3, "\x00"])},
    optional={k: json_values for k in (*_FIELDS, "x")},
)
key_entries = st.fixed_dictionaries(
    {}, optional={k: json_values for k in ("name", "apiKey", "env", "source")}
)


@settings(
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    orchestrator=orchestrator_documents | json_values,
    keys=st.none() | json_values | st.lists(key_entries, max_size=3),
)
def test_any_json_is_loaded_or_one_config_error(
    tmp_path: Path, orchestrator: Any, keys: Any
) -> None:
    """Nothing but a ConfigError ever escapes (a traceback would fail this test)."""
    folder = tmp_path / "fuzz"
    folder.mkdir(exist_ok=True)
    (folder / "orchestrator.json").write_text(json.dumps(orchestrator))
    if keys is None:
        (folder / "api-keys.json").unlink(missing_ok=True)
    else:
        (folder / "api-keys.json").write_text(json.dumps(keys))
    with contextlib.suppress(ConfigError):
        config = load_config(folder)
        assert workspace_problem(config.workspace, config.config_dir) is None


def test_python_built_configs_refuse_non_finite_numbers() -> None:
    from claude_orchestra.config import OrchestraConfig
    from claude_orchestra.costs.budget import BudgetConfig
    from claude_orchestra.costs.transcripts import Price

    with pytest.raises(ValueError, match="finite"):
        OrchestraConfig(repository_url="/r", max_run_duration_minutes=float("inf"))
    with pytest.raises(ValueError, match="finite"):
        BudgetConfig(usd=float("nan"))
    with pytest.raises(ValueError, match="0 or more"):
        Price(input=-1.0, output=1.0, cache_write=1.0, cache_read=1.0)
