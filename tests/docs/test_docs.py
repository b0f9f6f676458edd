"""Every hook, public name, command and config key is documented."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

import claude_orchestra
from claude_orchestra import hookspecs
from claude_orchestra.cli import cli
from claude_orchestra.config import OrchestraConfig

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_every_hook_is_specified_documented_and_prefixed() -> None:
    text = page("reference/hookspecs.md")
    hooks = [name for name in dir(hookspecs) if name.startswith("orchestra_")]
    assert hooks
    for name in hooks:
        assert getattr(hookspecs, name).__doc__, name
        assert name in text, f"{name} missing from reference/hookspecs.md"


@pytest.mark.parametrize("name", claude_orchestra.__all__)
def test_every_public_name_has_a_docstring_and_an_entry(name: str) -> None:
    value = getattr(claude_orchestra, name)
    assert getattr(value, "__doc__", None), f"{name} has no docstring"
    assert name in page("reference/api.md"), f"{name} missing from reference/api.md"


def test_every_command_is_in_the_cli_reference() -> None:
    assert cli.commands
    text = page("reference/cli.md")
    for name, command in cli.commands.items():
        assert f"claude-orchestra {name}" in text
        assert command.help, name
        assert "Examples:" in (command.epilog or ""), name


def test_every_config_key_is_in_the_configuration_reference() -> None:
    text = page("reference/configuration.md")
    for field in attrs.fields(OrchestraConfig):
        head, *rest = field.name.split("_")
        key = head + "".join(part.capitalize() for part in rest)
        assert f"`{key}`" in text, f"{key} missing from reference/configuration.md"


def test_the_quick_start_is_two_commands_installed_and_two_from_a_clone() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    installed, clone = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    commands = [line.split("#")[0].strip() for line in installed.splitlines()]
    assert commands == ["pip install claude-orchestra", "claude-orchestra demo"]
    assert clone.split("\n")[:-1] == ["make demo", "make test"]


def test_the_readme_states_every_exit_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in ("`0`", "`1`", "`2`", "`3`", "`4`", "`5`", "`130`"):
        assert f"{code} " in readme.split("Exit codes:", 1)[1][:800], code


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
