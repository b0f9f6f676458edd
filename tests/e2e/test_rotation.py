"""Credentials failing under a real run: limits, auth failures, overloads, exhaustion."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from claude_orchestra.testing.faults import Fault

from .conftest import QUICK_TASKS, Target, environment

SECOND = "sk-ant-e2e-" + "8" * 32
REFRESH = "sk-ant-ort01-e2e-refresh"


@pytest.fixture
def target(queued_target: Target) -> Target:
    """Credentials do not depend on the manager's protocol: the quicker queue runs."""
    return queued_target


def add_second_key(target: Target) -> None:
    target.fake.register("second", SECOND)
    keys = json.loads((target.config / "api-keys.json").read_text())
    keys.append({"name": "second", "env": {**keys[0]["env"], "ANTHROPIC_API_KEY": SECOND}})
    (target.config / "api-keys.json").write_text(json.dumps(keys))


def set_options(target: Target, **options: object) -> None:
    path = target.config / "orchestrator.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **options}))


def test_a_401_retires_the_key_and_the_instance_moves_on(target: Target) -> None:
    add_second_key(target)
    target.fake.inject("fake-api", Fault.auth())  # a revoked key: every request is refused
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    status = {c["name"]: c["status"] for c in report["credentials"]}
    assert status == {"fake-api": "invalid", "second": "available"}
    assert report["rotations"]  # every instance that started on the key moved, once
    for rotation in report["rotations"]:
        assert (rotation["from_credential"], rotation["to_credential"]) == ("fake-api", "second")
        assert rotation["reason"] == "authentication_failed"
        assert rotation["seconds_to_recovery"] is not None
    moved = {r["instance"] for r in report["rotations"]}
    assert len(moved) == len(report["rotations"])
    assert report["totals"]["tasksDone"] == len(QUICK_TASKS)


def test_a_529_backs_off_on_the_same_credential(target: Target) -> None:
    add_second_key(target)
    target.fake.inject("*", Fault.overloaded(should_retry=False), times=1)
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    assert report["rotations"] == []
    (incident,) = [i for i in report["incidents"] if i["kind"] == "turn_failed"]
    assert incident["action"].startswith("retry on the same credential")
    failed = next(r for r in target.fake.requests if r.status == 529)
    retried = next(
        r for r in target.fake.requests if r.number > failed.number and r.cwd == failed.cwd
    )
    assert retried.credential == failed.credential


def test_when_every_credential_is_limited_the_run_pauses_and_resumes(target: Target) -> None:
    set_options(target, rateLimitCooldownSeconds=4)
    # the first request is refused: the only key rests 4 s, whenever the run gets there
    target.fake.inject("fake-api", Fault.rate_limit(retry_after=3600), times=1)
    started = time.monotonic()
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    paused = [i for i in report["incidents"] if i["kind"] == "credentials_exhausted"]
    assert paused
    assert paused[0]["action"].startswith("pause ")
    assert report["totals"]["tasksDone"] == len(QUICK_TASKS)
    assert time.monotonic() - started > 4  # it waited for the reset, it did not spin
    limited = [r for r in target.fake.requests if r.status == 429]
    assert len(limited) <= 3  # one failed request per instance, no retry storm


@pytest.mark.parametrize("login", ["token", "credentials file"])
def test_an_oauth_usage_limit_moves_to_a_key_until_its_reset(
    target: Target, login: str, tmp_path: Path
) -> None:
    token = "sk-ant-oat01-e2e-" + "9" * 24
    target.fake.register("oauth-login", token)
    set_options(target, authMode="oauth")
    reset = time.time() + 600
    target.fake.inject("oauth-login", Fault.usage_limit(reset_at=reset), until=reset)
    env = login_environment(target)
    if login == "token":
        env["CLAUDE_CODE_OAUTH_TOKEN"] = token
    else:  # the user's own Claude Code login, in a home of its own
        login_json = login_file(token, expires_at=4102444800000)
        original = own_login(env, tmp_path, login_json)
    result = target.run(env)
    if login == "credentials file":  # copied into each instance, never changed in place
        assert json.loads(original.read_text()) == login_json
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    assert report["rotations"]
    for rotation in report["rotations"]:
        assert (rotation["from_credential"], rotation["to_credential"]) == ("oauth", "fake-api")
        assert "hit your 5-hour limit" in rotation["evidence"]
    oauth = next(c for c in report["credentials"] if c["name"] == "oauth")
    assert oauth["status"] == "cooling"
    assert abs(oauth["until"] - reset) <= 60  # the reset time Claude Code showed, to the minute
    on_oauth = [r for r in target.fake.requests if r.credential == "oauth-login"]
    first_limit = next(r.number for r in on_oauth if r.status == 429)
    # after the limit, OAuth served nothing (each instance tried once, then moved)
    assert all(r.status == 429 for r in on_oauth if r.number >= first_limit)
    assert report["totals"]["tasksDone"] == len(QUICK_TASKS)
    assert token not in result.stdout + result.stderr


def login_environment(target: Target) -> dict[str, str]:
    """The environment of a run whose login goes to the fake; no login in it yet."""
    env = {**environment(), "ANTHROPIC_BASE_URL": target.fake.base_url}
    env.pop("CLAUDE_CODE_OAUTH_TOKEN", None)
    env.pop("CLAUDE_CONFIG_DIR", None)
    return env


def login_file(token: str, *, expires_at: int, refresh: str = REFRESH) -> dict[str, Any]:
    """A Claude Code credentials file's content, as ``/login`` writes it."""
    return {
        "claudeAiOauth": {
            "accessToken": token,
            "refreshToken": refresh,
            "expiresAt": expires_at,
            "scopes": ["user:inference", "user:profile", "user:sessions:claude_code"],
            "subscriptionType": "max",
        }
    }


def own_login(env: dict[str, str], tmp_path: Path, content: dict[str, Any]) -> Path:
    """Give the run's user a home of its own holding ``content`` as their login file."""
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    path = home / ".claude" / ".credentials.json"
    path.write_text(json.dumps(content))
    path.chmod(0o600)
    env["HOME"] = str(home)
    return path


def run_behind_the_broker_on(
    target: Target, tmp_path: Path, content: dict[str, Any]
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A run behind the broker on the user's own login file holding ``content`` (the fake
    honours :data:`REFRESH` and the broker refreshes at the fake): the file, and the run."""
    target.fake.logins.issue("oauth-login", REFRESH)
    set_options(target, authMode="oauth", broker=True)
    env = login_environment(target)
    env["CLAUDE_ORCHESTRA_OAUTH_TOKEN_URL"] = f"{target.fake.base_url}/v1/oauth/token"
    path = own_login(env, tmp_path, content)
    return path, target.run(env)


def test_behind_the_broker_an_expiring_login_is_refreshed_and_written_back(
    target: Target, tmp_path: Path
) -> None:
    """No Claude Code holds the login behind the broker: the broker refreshes it, as Claude
    Code would, before its first request, and writes the rotated tokens back for the
    user's own Claude Code; the run goes on it, never on the stale token nor on a key."""
    stale = "sk-ant-oat01-e2e-stale-" + "7" * 20
    target.fake.register("stale", stale)
    content = login_file(stale, expires_at=int((time.time() + 60) * 1000))
    path, result = run_behind_the_broker_on(target, tmp_path, content)
    assert result.returncode == 0, result.stderr[-3000:]
    assert target.report()["totals"]["tasksDone"] == len(QUICK_TASKS)
    assert target.fake.logins.refreshed == ["oauth-login"]  # then valid for an hour
    assert {r.credential for r in target.fake.requests} == {"oauth-login"}
    written = json.loads(path.read_text())["claudeAiOauth"]
    assert written["accessToken"] != stale
    assert written["refreshToken"] != REFRESH  # rotated: the old one is spent
    assert written["expiresAt"] > content["claudeAiOauth"]["expiresAt"]
    assert written["scopes"] == content["claudeAiOauth"]["scopes"]
    for secret in (stale, REFRESH, written["accessToken"], written["refreshToken"]):
        assert secret not in result.stdout + result.stderr


def test_behind_the_broker_a_revoked_login_is_refreshed_on_its_401(
    target: Target, tmp_path: Path
) -> None:
    """A login valid for a day by its file, but refused upstream (revoked, or rotated on
    the server's side): the broker refreshes it on the 401 and sends the same request
    again, so the run goes on it; the login is not retired, and no key is needed."""
    revoked = "sk-ant-oat01-e2e-revoked-" + "6" * 20  # the fake never issued it: a 401
    content = login_file(revoked, expires_at=int((time.time() + 86_400) * 1000))
    path, result = run_behind_the_broker_on(target, tmp_path, content)
    assert result.returncode == 0, result.stderr[-3000:]
    assert target.report()["totals"]["tasksDone"] == len(QUICK_TASKS)
    assert target.fake.logins.refreshed == ["oauth-login"]
    first, *rest = target.fake.requests
    assert (first.credential, first.status) == ("...6666", 401)
    assert rest
    assert {r.credential for r in rest} == {"oauth-login"}
    assert rest[0].last_user_text == first.last_user_text  # the same request, sent again
    written = json.loads(path.read_text())["claudeAiOauth"]
    assert written["accessToken"] != revoked
    assert written["refreshToken"] != REFRESH
    for secret in (revoked, REFRESH, written["accessToken"], written["refreshToken"]):
        assert secret not in result.stdout + result.stderr


def test_a_limit_claude_code_retries_silently_is_read_off_the_screen(target: Target) -> None:
    # With retries asked for, Claude Code retries a 429 by itself, firing no hook; it shows
    # its retries from the third attempt on (a few seconds in, at retry-after 1). At the
    # shipped look-after (8 s) the screen is read and the instance moves to the free key,
    # long before Claude Code's ten attempts (about three minutes) are over.
    add_second_key(target)
    set_options(target, maxRetries=10)
    target.fake.inject("fake-api", Fault.rate_limit(retry_after=1), until=time.time() + 600)
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    assert report["rotations"]
    for rotation in report["rotations"]:
        assert rotation["evidence"].startswith("screen: 429")
        assert rotation["to_credential"] == "second"
    limited = [r for r in target.fake.requests if r.status == 429]
    assert limited
    # each limited instance left the key after a few of Claude Code's own retries, not ten
    for cwd in {r.cwd for r in limited}:
        on_first = [r for r in limited if r.cwd == cwd]
        assert len(on_first) < 10
        later = [r for r in target.fake.requests if r.cwd == cwd and r.number > on_first[-1].number]
        assert later
        assert {r.credential for r in later} == {"second"}
    assert report["totals"]["tasksDone"] == len(QUICK_TASKS)


def test_with_no_valid_credential_left_the_instances_stop_and_the_run_ends(
    target: Target,
) -> None:
    target.fake.inject("fake-api", Fault.auth())  # the only key is revoked
    result = target.run()
    assert result.returncode == 5, result.stderr[-3000:]  # stalled: nothing can run
    report = target.report()
    gave_up = [i for i in report["incidents"] if i["kind"] == "gave_up"]
    assert gave_up
    assert {i["action"] for i in gave_up} == {"no valid credential left: stop it"}
    assert {c["status"] for c in report["credentials"]} == {"invalid"}
    assert len(target.fake.requests) <= 3 * 3  # a few tries by Claude Code, then nothing
    target.assert_nothing_left_running()
