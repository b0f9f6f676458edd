"""The remote runtime's pure parts: placement, config checks, translation of a launch,
the shell commands, the back-off and the git login split."""

from __future__ import annotations

import itertools
import json
import shlex
from pathlib import Path, PurePosixPath

import pytest

from claude_orchestra.auth.credentials import Secret
from claude_orchestra.config_load import parse_orchestrator
from claude_orchestra.errors import ConfigError
from claude_orchestra.runtimes.claude_home import LaunchSpec
from claude_orchestra.runtimes.remote import commands as sh
from claude_orchestra.runtimes.remote.adoption import (
    Launched,
    Spool,
    describe,
    parse_panes,
    unheard_deaths,
)
from claude_orchestra.runtimes.remote.ended import Ended, parse_ended
from claude_orchestra.runtimes.remote.hosts import (
    RemoteHost,
    placement,
    reachable_from_a_host,
    ssh_argv,
)
from claude_orchestra.runtimes.remote.link import backoff
from claude_orchestra.runtimes.remote.translate import (
    PathMap,
    git_login,
    hook_url,
    launch_number,
    loopback_ports,
    remote_launch,
    rewrite_urls,
    settings_text,
    state_text,
)

LOCAL = PurePosixPath("/work/run/workspace")
REMOTE = PurePosixPath("/home/orch/work/orchestra-abc")
PATHS = PathMap(local=LOCAL, remote=REMOTE)


def host(name: str, workers: int) -> RemoteHost:
    return RemoteHost(name=name, address="10.0.0.2", workers=workers)


def test_workers_are_placed_in_order_and_the_manager_stays_here() -> None:
    placed = placement([host("a", 2), host("b", 1)])
    assert {n: h.name for n, h in placed.items()} == {
        "worker-1": "a",
        "worker-2": "a",
        "worker-3": "b",
    }
    assert "manager" not in placed


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"runtime": "remote"}, 'remoteHosts: required with "runtime": "remote"'),
        (
            {"remoteHosts": [{"name": "a", "address": "h", "workers": 2}]},
            'remoteHosts: only used with "runtime": "remote"',
        ),
        (
            {"runtime": "remote", "remoteHosts": [{"name": "a", "address": "h", "workers": 3}]},
            "remoteHosts: the hosts' workers add up to 3, but workerCount is 2",
        ),
        (
            {"runtime": "remote", "remoteHosts": [{"name": "A", "address": "h", "workers": 2}]},
            "remoteHosts[0].name: must be a short lowercase name",
        ),
        (
            {"runtime": "remote", "remoteHosts": [{"address": "h", "workers": 2}]},
            "remoteHosts[0].name: required",
        ),
        (
            {
                "runtime": "remote",
                "remoteHosts": [{"name": "a", "address": "h", "workers": 2, "password": "x"}],
            },
            "remoteHosts[0].password: unknown key",
        ),
        ({"runtime": "remote", "remoteHosts": {}}, "remoteHosts: must be a list of host objects"),
        (
            {
                "repositoryUrl": "/srv/git/app.git",
                "runtime": "remote",
                "remoteHosts": [{"name": "a", "address": "h", "workers": 2}],
            },
            'repositoryUrl: with "runtime": "remote" it must be a URL the hosts can reach',
        ),
        (
            {
                "runtime": "remote",
                "remoteHosts": [{"name": "a", "address": "h", "workers": 2}],
                "budget": {"usd": 5},
            },
            'budget: with "runtime": "remote" the workers\' spend is counted only by the '
            "credential broker",
        ),
    ],
)
def test_bad_hosts_are_one_line_each(settings: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_orchestrator({"repositoryUrl": "https://example.com/r.git"} | settings)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_a_budget_with_remote_workers_is_kept_behind_the_broker() -> None:
    hosts = [{"name": "a", "address": "h", "workers": 2}]
    settings = {"repositoryUrl": "https://example.com/r.git", "runtime": "remote"}
    config = parse_orchestrator(
        settings | {"remoteHosts": hosts, "budget": {"usd": 5}, "broker": True}
    )
    assert config.broker
    assert config.budget.usd == 5


def test_loopback_urls_go_through_their_forwards() -> None:
    text = "http://127.0.0.1:3000/hooks/w/1 and http://localhost:8080/v1 and https://api.x:443"
    assert loopback_ports([text]) == {3000, 8080}
    assert rewrite_urls(text, {3000: 41000, 8080: 42000}) == (
        "http://127.0.0.1:41000/hooks/w/1 and http://127.0.0.1:42000/v1 and https://api.x:443"
    )


def test_paths_in_the_workspace_move_to_the_hosts_run_folder() -> None:
    assert PATHS.path(LOCAL / "worktrees/worker-1") == REMOTE / "worktrees/worker-1"
    assert PATHS.path("/usr/bin/git") == PurePosixPath("/usr/bin/git")
    assert PATHS.text(f"{LOCAL}/x") == f"{REMOTE}/x"
    assert PATHS.text(f"{LOCAL}-other/x") == f"{LOCAL}-other/x"


def spec() -> LaunchSpec:
    config = LOCAL / ".orchestra/instances/worker-1/config"
    return LaunchSpec(
        command=(
            "/local/claude",
            "--dangerously-skip-permissions",
            "--settings",
            str(config.parent / "orchestra-settings.json"),
        ),
        cwd=Path(LOCAL / "worktrees/worker-1"),
        env={
            "CLAUDE_CONFIG_DIR": str(config),
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:8080",
            "ANTHROPIC_API_KEY": "sk-secret",
        },
        supervisor=(
            "/py",
            "-I",
            "-S",
            "/relay.py",
            "run",
            "http://127.0.0.1:3000/panes/worker-1/1/died",
            "--env-file",
            "/f",
            "--",
        ),
    )


def test_a_launch_runs_the_hosts_relay_and_claude_with_no_secret_on_its_command_line() -> None:
    fifo = REMOTE / ".orchestra/fifo/worker-1"
    launch = remote_launch(
        spec(),
        paths=PATHS,
        ports={3000: 41000, 8080: 42000},
        claude="/opt/claude",
        relay=["python3", "-I", "-S", str(REMOTE / "relay.py")],
        fifo=fifo,
        extra_env={"CLAUDE_ORCHESTRA_GIT_PASSWORD": "pw"},
    )
    argv = shlex.split(launch.command)
    assert argv[:8] == [
        "python3",
        "-I",
        "-S",
        str(REMOTE / "relay.py"),
        "run",
        "http://127.0.0.1:41000/panes/worker-1/1/died",
        "--env-fifo",
        str(fifo),
    ]
    assert argv[8:] == [
        "--",
        "/opt/claude",
        "--dangerously-skip-permissions",
        "--settings",
        str(REMOTE / ".orchestra/instances/worker-1/orchestra-settings.json"),
    ]
    assert launch.cwd == REMOTE / "worktrees/worker-1"
    assert launch.env["CLAUDE_CONFIG_DIR"] == str(REMOTE / ".orchestra/instances/worker-1/config")
    assert launch.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:42000"
    assert launch.env["CLAUDE_ORCHESTRA_GIT_PASSWORD"] == "pw"
    assert "sk-secret" not in launch.command
    assert "pw" not in argv


def test_every_hook_on_the_host_runs_its_relay_which_posts_through_the_forward() -> None:
    url = "http://127.0.0.1:3000/hooks/worker-1/1"
    local = {
        "hooks": {
            "SessionStart": [
                {
                    "hooks": [
                        {
                            "type": "command",
                            "command": f"'/py' '-I' '-S' '/relay.py' 'hook' '{url}'",
                            "timeout": 10,
                        }
                    ]
                }
            ],
            "Stop": [
                {
                    "hooks": [
                        {
                            "type": "http",
                            "url": url,
                            "headers": {"Authorization": "Bearer $CLAUDE_ORCHESTRA_HOOK_TOKEN"},
                            "allowedEnvVars": ["CLAUDE_ORCHESTRA_HOOK_TOKEN"],
                            "timeout": 10,
                        }
                    ]
                }
            ],
        }
    }
    spool = REMOTE / ".orchestra/spool/worker-1-1"
    text = settings_text(
        json.dumps(local), paths=PATHS, ports={3000: 41000}, relay="python3 r.py", spool=spool
    )
    hooks = json.loads(text)["hooks"]
    forwarded = "http://127.0.0.1:41000/hooks/worker-1/1"
    relayed = {
        "type": "command",
        "command": f"python3 r.py hook {forwarded} --spool {spool}",
        "timeout": 10,
    }
    assert hooks == {"SessionStart": [{"hooks": [relayed]}], "Stop": [{"hooks": [relayed]}]}
    assert "Bearer" not in text  # the relay takes the token from claude's environment
    assert hook_url(json.dumps(local), {3000: 41000}) == forwarded
    assert hook_url(json.dumps({"hooks": {}}), {}) is None


def test_a_spool_is_drained_with_the_token_on_standard_input() -> None:
    spool = PurePosixPath("/h/run/.orchestra/spool/worker-1-1")
    argv = shlex.split(sh.drain("python3", PurePosixPath("/h/run/relay.py"), "http://u", spool))
    assert argv == ["python3", "-I", "-S", "/h/run/relay.py", "drain", "http://u", str(spool)]
    assert "s3cret" not in repr(Spool(folder=spool, url="http://u", token=Secret("s3cret")))


def test_claude_json_trusts_the_hosts_folders() -> None:
    local = {"projects": {str(LOCAL / "worktrees/worker-1"): {"hasTrustDialogAccepted": True}}}
    moved = json.loads(state_text(json.dumps(local), paths=PATHS))
    assert list(moved["projects"]) == [str(REMOTE / "worktrees/worker-1")]


def test_commands_quote_every_value() -> None:
    evil = PurePosixPath("/tmp/a b;rm -rf ~")
    assert shlex.split(sh.make_fifo(evil))[-1] == str(evil)
    assert "'/tmp/a b;rm -rf ~'" in sh.write_file(evil)
    assert sh.target("worker-1") == "=orchestra:=worker-1"


def test_the_run_processes_are_ended_by_the_script_on_standard_input() -> None:
    assert shlex.split(sh.end_processes("/opt/py 3", "orchestra-ab", 10.0)) == [
        "/opt/py 3", "-I", "-S", "-", "orchestra-ab", "10",
    ]  # fmt: skip


def test_what_ending_the_run_processes_came_to_is_read_line_by_line() -> None:
    printed = "killed 41\nrunning 42\nkilled x\nTraceback (most recent call last)\nkilled 43\n"
    assert parse_ended(printed) == Ended(killed=(41, 43), running=(42,))
    assert parse_ended("\n") == Ended()


def test_the_credential_helper_reads_the_environment_and_stores_nothing() -> None:
    assert "password=$CLAUDE_ORCHESTRA_GIT_PASSWORD" in sh.CREDENTIAL_HELPER
    assert sh.with_git_login("git fetch").startswith(
        "IFS= read -r CLAUDE_ORCHESTRA_GIT_USERNAME; IFS= read -r CLAUDE_ORCHESTRA_GIT_PASSWORD"
    )


def test_backoff_doubles_up_to_its_cap() -> None:
    assert list(itertools.islice(backoff(0.25, 2.0), 6)) == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


@pytest.mark.parametrize(
    ("url", "split"),
    [
        ("http://u:p%40ss@127.0.0.1:9/o.git", ("http://127.0.0.1:9/o.git", "u", "p@ss")),
        ("https://github.com/me/app.git", ("https://github.com/me/app.git", None, None)),
        ("git@github.com:me/app.git", ("git@github.com:me/app.git", None, None)),
    ],
)
def test_a_login_in_the_repository_url_is_split_off(
    url: str, split: tuple[str, str | None, str | None]
) -> None:
    assert git_login(url) == split


def test_a_person_reaches_a_remote_worker_through_ssh_with_the_hosts_key() -> None:
    remote = RemoteHost(
        name="box",
        address="10.0.0.2",
        workers=1,
        user="orch",
        identity_file="/keys/id",
        known_hosts="/keys/known",
    )
    ssh = ssh_argv(remote)
    assert ssh[-1] == "orch@10.0.0.2"
    assert ssh[ssh.index("-i") : ssh.index("-i") + 2] == ["-i", "/keys/id"]
    assert "UserKnownHostsFile=/keys/known" in ssh
    assert "StrictHostKeyChecking=yes" in ssh


def test_a_launch_number_comes_from_the_exit_report_url() -> None:
    assert launch_number(spec()) == 1


def test_after_a_reconnection_a_death_the_loop_never_heard_of_is_found() -> None:
    panes = parse_panes(
        "worker-1 101 0\nworker-2 202 1\nworker-3 999 0\nplanted; junk\nworker-5 x 0\n"
    )
    assert set(panes) == {"worker-1", "worker-2", "worker-3"}
    launched = {
        "worker-1": Launched(launch=1, pid=101),  # alive: re-adopted
        "worker-2": Launched(launch=2, pid=202),  # exited while the link was down
        "worker-3": Launched(launch=1, pid=303),  # another process in its window
        "worker-4": Launched(launch=1, pid=404),  # its window is gone
    }
    names = ["worker-1", "worker-2", "worker-3", "worker-4"]
    assert unheard_deaths(panes, launched, names) == {
        "worker-2": Launched(launch=2, pid=202),
        "worker-3": Launched(launch=1, pid=303),
        "worker-4": Launched(launch=1, pid=404),
    }
    assert describe(panes, ["worker-1", "worker-2"]) == (
        "worker-1 (pid 101), worker-2 (pid 202, exited)"
    )
    assert describe({}, names) == "no window left"


@pytest.mark.parametrize(
    ("url", "reachable"),
    [
        ("https://github.com/me/app.git", True),
        ("ssh://git@example.com/app.git", True),
        ("git@github.com:me/app.git", True),
        ("http://127.0.0.1:8000/origin.git", True),
        ("file:///srv/git/app.git", False),
        ("/srv/git/app.git", False),
    ],
)
def test_a_host_clones_urls_not_this_machines_paths(url: str, reachable: bool) -> None:
    assert reachable_from_a_host(url) is reachable
