"""Every hook, public name, command and config key is documented."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

import claude_orchestra
from claude_orchestra import hookspecs
from claude_orchestra.cli import build_parser
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
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands is not None
    text = page("reference/cli.md")
    for command in commands:
        assert f"claude-orchestra {command}" in text


def test_every_config_key_is_in_the_configuration_reference() -> None:
    text = page("reference/configuration.md")
    for field in attrs.fields(OrchestraConfig):
        head, *rest = field.name.split("_")
        key = head + "".join(part.capitalize() for part in rest)
        assert f"`{key}`" in text, f"{key} missing from reference/configuration.md"


def test_the_quick_start_is_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block.split("\n")[:-1] == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
