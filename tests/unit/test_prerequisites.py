"""doctor's checks on fake machines: which tools exist, what they answer, which platform."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from claude_orchestra import AuthMode, OrchestraConfig, PrerequisiteError, RunConfig
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.claude_install import install_claude, npm_command
from claude_orchestra.machine import Machine, detect_platform, install_line
from claude_orchestra.prerequisites import (
    CLAUDE_CODE_VERSION,
    Check,
    Severity,
    cache_dir,
    check_all,
    check_login,
    locate_claude,
    problems,
)

ROOT = Path(__file__).resolve().parents[2]
PINNED = f"{CLAUDE_CODE_VERSION} (Claude Code)"


def fake_machine(
    tmp_path: Path,
    tools: Mapping[str, str | None],
    *,
    answers: Mapping[str, str] | None = None,
    platform: str = "apt",
    environ: Mapping[str, str] | None = None,
) -> Machine:
    """A machine whose PATH holds ``tools`` (name -> path) and whose commands answer
    ``answers`` (path -> stdout of ``path --version``)."""
    found = {name: path for name, path in tools.items() if path}
    replies = dict(answers or {})

    def which(name: str) -> str | None:
        if name.startswith("/"):
            return name if name in found.values() or Path(name).exists() else None
        return found.get(name)

    def output(command: Sequence[str]) -> str | None:
        return replies.get(command[0])

    return Machine(
        environ={"XDG_CACHE_HOME": str(tmp_path / "cache"), **dict(environ or {})},
        home=tmp_path / "home",
        checkouts=(tmp_path,),
        platform=platform,
        which=which,
        output=output,
    )


def by_name(checks: Sequence[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_the_pin_is_the_one_in_tools_package_json() -> None:
    package = json.loads((ROOT / "tools" / "package.json").read_text())
    assert package["dependencies"]["@anthropic-ai/claude-code"] == CLAUDE_CODE_VERSION


def test_the_cache_follows_xdg_then_the_platform(tmp_path: Path) -> None:
    linux = fake_machine(tmp_path, {}, environ={"XDG_CACHE_HOME": ""})
    assert cache_dir(linux) == tmp_path / "home/.cache/claude-orchestra" / (
        f"claude-code-{CLAUDE_CODE_VERSION}"
    )
    mac = fake_machine(tmp_path, {}, platform="macos", environ={"XDG_CACHE_HOME": ""})
    assert cache_dir(mac).parts[-4:-1] == ("Library", "Caches", "claude-orchestra")
    assert cache_dir(fake_machine(tmp_path, {})).is_relative_to(tmp_path / "cache")


def test_a_pinned_claude_on_path_is_used(tmp_path: Path) -> None:
    machine = fake_machine(tmp_path, {"claude": "/bin/claude"}, answers={"/bin/claude": PINNED})
    found = locate_claude(None, machine)
    assert (found.path, found.version, found.source) == ("/bin/claude", CLAUDE_CODE_VERSION, "PATH")


def test_another_version_on_path_is_refused_in_one_line_naming_the_fix(tmp_path: Path) -> None:
    machine = fake_machine(
        tmp_path, {"claude": "/bin/claude"}, answers={"/bin/claude": "1.0.0 (Claude Code)"}
    )
    with pytest.raises(PrerequisiteError) as caught:
        locate_claude(None, machine)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("claude: /bin/claude is version 1.0.0, not the pinned")
    assert "claude-orchestra doctor --fix" in message


def test_the_cached_pinned_claude_wins_over_another_on_path(tmp_path: Path) -> None:
    cached = cache_dir(fake_machine(tmp_path, {})) / "node_modules/.bin/claude"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    machine = fake_machine(
        tmp_path,
        {"claude": "/bin/claude"},
        answers={"/bin/claude": "1.0.0 (Claude Code)", str(cached): PINNED},
    )
    found = locate_claude(None, machine)
    assert (found.path, found.source) == (str(cached), "cache")


def test_an_insisted_claude_of_another_version_is_a_warning(tmp_path: Path) -> None:
    machine = fake_machine(
        tmp_path,
        {"claude": "/opt/claude", "tmux": "/bin/tmux", "git": "/bin/git"},
        answers={"/opt/claude": "1.0.0 (Claude Code)"},
        environ={"CLAUDE_ORCHESTRA_CLAUDE": "/opt/claude"},
    )
    claude = by_name(check_all(machine, login=False, installers=False))["claude"]
    assert claude.severity is Severity.WARNING
    assert "CLAUDE_ORCHESTRA_CLAUDE" in claude.line()


def test_a_missing_insisted_claude_keeps_its_one_line(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteError, match=r"^claude: not found: /nonexistent/claude$"):
        locate_claude("/nonexistent/claude", fake_machine(tmp_path, {}))


@pytest.mark.parametrize(
    ("platform", "line"),
    [
        ("apt", "sudo apt-get install tmux"),
        ("macos", "brew install tmux"),
        ("dnf", "sudo dnf install tmux"),
        ("other", "install tmux with your system's package manager"),
    ],
)
def test_each_problem_is_one_line_with_this_platforms_fix(platform: str, line: str) -> None:
    checks = check_all(
        Machine(
            environ={},
            home=Path("/nonexistent"),
            checkouts=(),
            platform=platform,
            which=lambda name: None,
            output=lambda command: None,
        ),
        runtime="sandbox",
    )
    lines = problems(checks)
    assert f"tmux: not found on PATH; fix: {line}" in lines
    assert all("\n" not in each for each in lines)
    assert {each.split(":")[0] for each in lines} == {
        "claude", "node", "npm", "tmux", "git", "bwrap", "login"
    }  # fmt: skip


def test_bubblewrap_is_checked_only_for_the_sandbox(tmp_path: Path) -> None:
    machine = fake_machine(tmp_path, {})
    assert "bwrap" not in by_name(check_all(machine, runtime="local"))
    assert "bwrap" in by_name(check_all(machine, runtime="sandbox"))
    assert install_line("bwrap", "macos").startswith("bubblewrap runs on Linux only")


def test_node_and_npm_matter_only_while_claude_must_be_installed(tmp_path: Path) -> None:
    installed = fake_machine(
        tmp_path,
        {"claude": "/bin/claude", "node": "/bin/node"},
        answers={"/bin/claude": PINNED, "/bin/node": "v20.11.0"},
    )
    checks = by_name(check_all(installed, login=False))
    assert checks["node"].severity is Severity.WARNING
    assert ">= 22.0" in checks["node"].line()
    assert checks["npm"].severity is Severity.WARNING
    missing = by_name(check_all(fake_machine(tmp_path, {"node": "/bin/node"}), login=False))
    assert missing["claude"].severity is Severity.PROBLEM
    assert missing["npm"].severity is Severity.PROBLEM
    current = fake_machine(tmp_path, {"node": "/bin/node"}, answers={"/bin/node": "v22.3.1\n"})
    assert by_name(check_node_only(current))["node"].severity is Severity.OK


def check_node_only(machine: Machine) -> list[Check]:
    return [c for c in check_all(machine, login=False) if c.name == "node"]


def config(keys: int = 0, mode: str = "oauth") -> RunConfig:
    return RunConfig(
        config_dir=Path("/nonexistent"),
        orchestrator=OrchestraConfig(repository_url="/nonexistent", auth_mode=AuthMode(mode)),
        credentials=tuple(
            Credential(
                name=f"k{i}",
                kind=CredentialKind.API_KEY,
                env={"ANTHROPIC_API_KEY": Secret("sk-ant-xxxxxxxx")},
            )
            for i in range(keys)
        ),
    )


def test_a_login_is_a_token_a_credentials_file_or_a_key(tmp_path: Path) -> None:
    bare = fake_machine(tmp_path, {})
    assert check_login(None, bare).severity is Severity.PROBLEM
    token = fake_machine(tmp_path, {}, environ={"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x"})
    assert check_login(None, token).ok
    assert check_login(config(keys=1), bare).ok
    credentials = tmp_path / "home/.claude/.credentials.json"
    credentials.parent.mkdir(parents=True)
    credentials.write_text(json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-y"}}))
    assert check_login(None, bare).ok


def test_macos_is_told_to_make_a_token(tmp_path: Path) -> None:
    line = check_login(None, fake_machine(tmp_path, {}, platform="macos")).line()
    assert "Keychain" in line
    assert "claude setup-token" in line
    assert "CLAUDE_CODE_OAUTH_TOKEN" in line


def test_api_keys_only_with_no_key_is_a_problem_even_when_logged_in(tmp_path: Path) -> None:
    token = fake_machine(tmp_path, {}, environ={"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x"})
    check = check_login(config(mode="api-keys-only"), token)
    assert not check.ok
    assert "api-keys-only" in check.line()


@pytest.mark.parametrize(
    ("system", "release", "expected"),
    [
        ("Darwin", {}, "macos"),
        ("Linux", {"ID": "ubuntu", "ID_LIKE": "debian"}, "apt"),
        ("Linux", {"ID": "debian"}, "apt"),
        ("Linux", {"ID": "fedora"}, "dnf"),
        ("Linux", {"ID": "arch"}, "other"),
    ],
)
def test_the_platform_comes_from_os_release(
    system: str, release: dict[str, str], expected: str
) -> None:
    assert detect_platform(system, release) == expected


def test_install_runs_npm_into_the_cache_and_checks_the_version(tmp_path: Path) -> None:
    ran: list[list[str]] = []
    machine = fake_machine(tmp_path, {"npm": "/bin/npm"})
    claude = cache_dir(machine) / "node_modules/.bin/claude"
    answering = fake_machine(tmp_path, {"npm": "/bin/npm"}, answers={str(claude): PINNED})

    def npm(command: Sequence[str]) -> int:
        ran.append(list(command))
        return 0

    assert install_claude(answering, run=npm) == claude
    assert ran == [npm_command("/bin/npm", cache_dir(machine))]
    assert f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}" in ran[0]
    with pytest.raises(PrerequisiteError, match="answers nothing to --version"):
        install_claude(machine, run=npm)
    with pytest.raises(PrerequisiteError, match="exit 1"):
        install_claude(machine, run=lambda command: 1)
    with pytest.raises(PrerequisiteError, match=r"^npm: not found on PATH"):
        install_claude(fake_machine(tmp_path, {}), run=npm)
