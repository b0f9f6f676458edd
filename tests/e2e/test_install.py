"""Installed as a user would: from the built wheel, in a fresh virtual environment, outside
the repository, with no claude on PATH.

``doctor --fix`` installs the pinned Claude Code into the per-user cache (npm, ~370 MB: a
few minutes without npm's cache, seconds with it), then ``demo`` completes. With another
version of claude first on PATH, the pinned one in the cache is used, and without it the
run refuses in one line naming the fix. Marked ``install``: it builds, installs and
downloads (PyPI, npm).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from claude_orchestra.prerequisites import CLAUDE_CODE_VERSION

pytestmark = [pytest.mark.install, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
WRONG_CLAUDE = '#!/bin/sh\necho "1.0.0 (Claude Code)"\n'


@attrs.frozen
class Installed:
    """A fresh venv holding the wheel, and a user's folders outside the repository."""

    root: Path
    wheel: Path
    bin: Path
    home: Path
    cache: Path
    tools_path: str
    """PATH entries for node, npm, tmux and git (none of them holds a claude)."""

    def env(self, *, first: Path | None = None, cache: Path | None = None) -> dict[str, str]:
        path = [str(first)] if first else []
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE"))}
        return {
            **keep,
            "PATH": os.pathsep.join([*path, str(self.bin), self.tools_path]),
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(cache or self.cache),
            # npm's own download cache, so a second run does not fetch 370 MB again
            "NPM_CONFIG_CACHE": os.environ.get("NPM_CONFIG_CACHE", str(Path.home() / ".npm")),
        }

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "claude-orchestra"), *args],
            cwd=self.root,
            env=dict(env or self.env()),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _tools_path() -> str:
    folders = []
    for tool in ("node", "npm", "tmux", "git"):
        found = shutil.which(tool)
        if found is None:
            pytest.fail(f"{tool} is not installed (run `make setup`)")
        folder = str(Path(found).parent)
        if folder not in folders:
            folders.append(folder)
    if any((Path(folder) / "claude").exists() for folder in folders):
        pytest.skip("a claude sits beside node, npm, tmux or git: no PATH without claude")
    return os.pathsep.join([*folders, "/usr/bin", "/bin"])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("installed")
    dist = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(dist)],
        check=True,
        timeout=600,
    )
    (wheel,) = dist.glob("claude_orchestra-*.whl")
    venv.create(root / "venv", with_pip=True)
    bin_dir = root / "venv" / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "-q", str(wheel)], check=True, timeout=600)
    home = root / "home"
    home.mkdir()
    return Installed(
        root=root,
        wheel=wheel,
        bin=bin_dir,
        home=home,
        cache=root / "cache",
        tools_path=_tools_path(),
    )


@pytest.fixture(scope="module")
def doctor_before_and_after_fix(installed: Installed) -> tuple[dict[str, Any], str]:
    """``doctor --json`` before, and ``doctor --fix``'s table after (asserted exit 0)."""
    env = {**installed.env(), "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-not-used"}
    before = json.loads(installed.run("doctor", "--json", env=env).stdout)
    fixed = installed.run("doctor", "--fix", env=env, timeout=1200)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    return before, fixed.stdout


def installed_json(installed: Installed, probe: str) -> Any:
    """What the Python code ``probe`` prints as JSON, run by the installed venv's Python."""
    out = subprocess.run(
        [str(installed.bin / "python"), "-c", probe], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_the_wheel_brings_no_pytest_plugin_and_no_repository_tools(installed: Installed) -> None:
    probe = (
        "import importlib.metadata as m, json; "
        "print(json.dumps([e.value for e in m.entry_points(group='pytest11') "
        "if e.value.startswith('claude_orchestra')]))"
    )
    assert installed_json(installed, probe) == []
    version = installed.run("--version")
    assert version.returncode == 0, version.stderr
    assert f"Claude Code {CLAUDE_CODE_VERSION}" in version.stdout


def test_the_wheel_ships_the_dashboards_page(installed: Installed) -> None:
    probe = (
        "import json; from importlib import resources; "
        "folder = resources.files('claude_orchestra.web') / 'static'; "
        "print(json.dumps(sorted(f.name for f in folder.iterdir())))"
    )
    assert installed_json(installed, probe) == ["dashboard.css", "dashboard.js", "index.html"]


def test_doctor_fix_installs_the_pinned_claude_then_the_demo_completes(
    installed: Installed, doctor_before_and_after_fix: tuple[dict[str, Any], str]
) -> None:
    before, fixed = doctor_before_and_after_fix
    claude = next(c for c in before["checks"] if c["name"] == "claude")
    assert claude["status"] == "problem"
    assert claude["fix"] == "claude-orchestra doctor --fix"
    cached = installed.cache / "claude-orchestra" / f"claude-code-{CLAUDE_CODE_VERSION}"
    assert (cached / "node_modules" / ".bin" / "claude").exists()
    assert "(cache)" in fixed

    demo = installed.run("demo", "--dir", str(installed.root / "demo"), timeout=600)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-3000:]
    assert "Tokens in the transcripts are equal to what the fake API served" in demo.stdout


@pytest.mark.usefixtures("doctor_before_and_after_fix")
def test_a_wrong_version_claude_on_path_is_passed_over_or_refused(
    installed: Installed, tmp_path: Path
) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "claude").write_text(WRONG_CLAUDE)
    (fake / "claude").chmod(0o755)
    config = tmp_path / "config"
    config.mkdir()
    (config / "orchestrator.json").write_text(json.dumps({"repositoryUrl": str(tmp_path)}))
    (config / "api-keys.json").write_text('[{"name": "k", "apiKey": "sk-ant-not-used"}]')
    (config / "api-keys.json").chmod(0o600)

    # With the pinned one in the cache (doctor --fix put it there), it is used instead.
    ready = installed.run("validate", "--config", str(config), env=installed.env(first=fake))
    assert ready.returncode == 0, ready.stderr
    checks = json.loads(installed.run("doctor", "--json", env=installed.env(first=fake)).stdout)
    claude = next(c for c in checks["checks"] if c["name"] == "claude")
    assert claude["found"].endswith("(cache)")

    # Without it, the run refuses in one line that names the fix.
    empty = installed.env(first=fake, cache=tmp_path / "empty-cache")
    refused = installed.run("run", "--config", str(config), env=empty)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"claude-orchestra: claude: {fake / 'claude'} is version 1.0.0, not the pinned "
        f"{CLAUDE_CODE_VERSION}; fix: claude-orchestra doctor --fix (installs the pinned one, "
        "used ahead of PATH), or set claudeCommand to insist on this one"
    ]


def test_uv_tool_install_and_uvx_run_the_wheel(installed: Installed, tmp_path: Path) -> None:
    """uv itself comes from PyPI into the test's venv; its tools and cache stay in tmp_path.
    The demo, with an empty user cache, installs the pinned Claude Code by itself."""
    subprocess.run([str(installed.bin / "pip"), "install", "-q", "uv"], check=True, timeout=600)
    env = {
        **installed.env(cache=tmp_path / "user-cache"),
        "UV_TOOL_DIR": str(tmp_path / "uv-tools"),
        "UV_TOOL_BIN_DIR": str(tmp_path / "uv-bin"),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NATIVE_TLS": "1",
    }
    uv = str(installed.bin / "uv")
    subprocess.run(
        [uv, "tool", "install", "-q", str(installed.wheel)], env=env, check=True, timeout=600
    )
    version = subprocess.run(
        [str(tmp_path / "uv-bin" / "claude-orchestra"), "--version"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"Claude Code {CLAUDE_CODE_VERSION}" in version.stdout
    demo = subprocess.run(
        [str(installed.bin / "uvx"), "--from", str(installed.wheel), "claude-orchestra", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-3000:]
    assert f"Installing Claude Code {CLAUDE_CODE_VERSION} into {tmp_path}" in demo.stderr
    assert "Tokens in the transcripts are equal to what the fake API served" in demo.stdout
