"""The sandbox runtime on a real run: work gets done, nothing outside the worktree can be
read or written."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.testing.scripted import (
    MessagesRequest,
    OrchestraScript,
    Reply,
    bash,
    text_reply,
    tool_reply,
)

from .conftest import Target, open_target
from .test_resume import lost_commits
from .test_rotation import set_options

pytestmark = pytest.mark.usefixtures("bwrap_binary")  # skipped locally, a failure under CI


@attrs.define
class ProbeAfterWork:
    """The orchestra script; the first worker to finish a task then runs ``probe`` with its
    Bash tool before it stops, and the output is kept."""

    probe: str
    inner: OrchestraScript = attrs.field(factory=OrchestraScript)
    output: list[str] = attrs.field(factory=list)
    prober: list[str] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def respond(self, request: MessagesRequest) -> Reply:
        tag = parse_prompt_tag(request.prompt) if request.prompt else None
        if tag and tag.get("action") == "task" and request.step >= 3:
            with self.lock:
                if request.step == 3 and not self.prober:
                    self.prober.append(str(request.cwd))
                    return tool_reply(bash(self.probe, "Look around"))
                if request.step == 4 and self.prober == [str(request.cwd)]:
                    self.output.append(request.turn_results[-1].text)
                    return text_reply("Done, and looked around.")
        return self.inner.respond(request)


TASKS = """# Tasks
- [ ] Create `greet.py` with a function that greets a person by name
- [ ] Create `shout.py` with a function that upper-cases a greeting
"""


@pytest.fixture
def target(tmp_path: Path, claude_binary: Path, tmux_binary: str) -> Iterator[Target]:
    """Two workers and two tasks, no manager (the queue strategies): a short run."""
    with open_target(
        tmp_path, files={"TASKS.md": TASKS}, scheduler="queue", merger="queue", runtime="sandbox"
    ) as made:
        yield made


def test_a_sandboxed_run_completes_and_cannot_reach_outside_its_worktree(
    target: Target, tmp_path: Path
) -> None:
    workspace = target.workspace
    outside = tmp_path / "outside.txt"
    homes = workspace / ".orchestra" / "instances"
    probe = "; ".join(
        [
            *(
                f"ls {homes}/{name}/orchestra-settings.json >/dev/null 2>&1; echo seen-{name}=$?"
                for name in ("worker-1", "worker-2")
            ),
            f"cat {target.config}/api-keys.json | grep -c sk-ant; echo keys=$?",
            f"touch {outside} 2>/dev/null; echo write-outside=$?",
            f"touch {workspace}/repo/probe.txt 2>/dev/null; echo write-clone=$?",
            "touch mine.txt && rm mine.txt; echo write-own=$?",
            "echo nice=$(nice)",
            "ls /proc | grep -c '^[0-9]' ",
        ]
    )
    script = ProbeAfterWork(probe=probe)
    target.fake.script = script
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    (output,) = script.output
    facts = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    (prober,) = {Path(cwd).name for cwd in script.prober}
    other = "worker-2" if prober == "worker-1" else "worker-1"
    assert facts[f"seen-{prober}"] == "0"  # its own home is there
    assert facts[f"seen-{other}"] != "0"  # another instance's home is not there at all
    assert facts["keys"] != "0"  # api-keys.json reads as empty
    assert facts["write-outside"] != "0"
    assert facts["write-clone"] != "0"
    assert facts["write-own"] == "0"  # its own worktree is writable
    assert facts["nice"] == "10"  # behind the orchestrator for the CPU (instanceNice)
    assert not outside.exists()
    assert not (workspace / "repo" / "probe.txt").exists()
    processes = int(output.strip().splitlines()[-1])
    assert processes < 10  # a private pid namespace: its own few processes only
    report = target.report()
    assert report["totals"]["tasksDone"] == 2
    assert lost_commits(target) == set()
    target.assert_nothing_left_running()


FORGE = """
import json, os, re, urllib.error, urllib.request
home = os.environ["CLAUDE_CONFIG_DIR"]
settings = open(os.path.join(home, "..", "orchestra-settings.json")).read()
own = re.search(r"http://127\\.0\\.0\\.1:\\d+/hooks/([\\w-]+)/(\\d+)", settings)
base, name, launch = own.group(0).split("/hooks/")[0], own.group(1), int(own.group(2))
token = os.environ["CLAUDE_ORCHESTRA_HOOK_TOKEN"]
def post(path, session):
    body = json.dumps({"hook_event_name": "Stop", "session_id": session, "cwd": "/"}).encode()
    request = urllib.request.Request(base + path, data=body, method="POST", headers={
        "Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code
uuid = "00000000-0000-4000-8000-000000000000"
for other in ("worker-1", "worker-2"):
    if other != name:
        print(f"forge-{other}={post(f'/hooks/{other}/{launch}', uuid)}")
print(f"forge-{name}-later-launch={post(f'/hooks/{name}/{launch + 1}', uuid)}")
print(f"forge-bad-session={post(f'/hooks/{name}/{launch}', 'x; touch /tmp/pwned')}")
"""
"""Posts forged hook events with the worker's own token (run by its Bash tool)."""


def assert_home_and_hooks_held(facts: dict[str, str], attacker: str, stolen: Path) -> None:
    """The doors in the instance's own home and its hook token stayed shut."""
    assert facts["symlink"] == "0", facts  # planted (its home is its own)...
    assert facts["fifo"] == "0", facts
    assert not stolen.exists()  # ...and never followed when its restart rewrote the home
    other = "worker-2" if attacker == "worker-1" else "worker-1"
    assert facts[f"forge-{other}"] == "401", facts  # its token is its own launch's only
    assert facts[f"forge-{attacker}-later-launch"] == "401", facts
    assert facts["forge-bad-session"] == "400", facts


@attrs.define
class HostileThenRestarted:
    """The orchestra script; the first worker to finish a task then runs ``attack`` with its
    Bash tool, and its reply waits until the test has killed its process (so its restart is
    forced right after the attack)."""

    attack: str
    inner: OrchestraScript = attrs.field(factory=OrchestraScript)
    output: list[str] = attrs.field(factory=list)
    attacker: list[str] = attrs.field(factory=list)
    attacked: threading.Event = attrs.field(factory=threading.Event)
    killed: threading.Event = attrs.field(factory=threading.Event)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def respond(self, request: MessagesRequest) -> Reply:
        tag = parse_prompt_tag(request.prompt) if request.prompt else None
        if tag and tag.get("action") == "task" and request.step >= 3:
            with self.lock:
                first = not self.attacker
                if request.step == 3 and first:
                    self.attacker.append(str(request.cwd))
                    return tool_reply(bash(self.attack, "Try every door"))
                mine = self.attacker == [str(request.cwd)]
                if request.step == 4 and mine and not self.output:
                    self.output.append(request.turn_results[-1].text)
                    self.attacked.set()
                    wait = True
                else:
                    wait = False
            if request.step == 4 and mine:
                if wait:
                    self.killed.wait(timeout=60)  # this reply goes to a dead process
                return text_reply("Done, and tried every door.")
        return self.inner.respond(request)


def test_a_hostile_worker_cannot_steer_the_sandbox_or_the_host_git(
    target: Target, tmp_path: Path
) -> None:
    from .test_recovery import claude_pid

    workspace = target.workspace
    common = workspace / "repo" / ".git"
    marker = tmp_path / "PLANTED-COMMAND-RAN"
    host_folder = tmp_path / "host-folder"
    host_folder.mkdir()
    hostile = tmp_path / "hostile"  # a git dir the worker would like the host to use
    stolen = tmp_path / "stolen.json"  # where a symlink would send the orchestrator's writes
    evil = f"touch {marker}"
    attack = "; ".join(
        [
            'private="$(cat .git | sed "s/^gitdir: //")"',
            f"printf 'gitdir: {workspace}/.orchestra\\n' > .git 2>/dev/null; echo dotgit-state=$?",
            f"printf 'gitdir: {host_folder}\\n' > .git 2>/dev/null; echo dotgit-host=$?",
            "printf 'gitdir: /\\n' > .git 2>/dev/null; echo dotgit-root=$?",
            "rm -f .git 2>/dev/null; echo dotgit-rm=$?",
            "mv .git moved-git 2>/dev/null; echo dotgit-mv=$?",
            f'echo {hostile} > "$private/commondir" 2>/dev/null; echo commondir=$?',
            f"git config core.fsmonitor '{evil}' 2>/dev/null; echo config=$?",
            f"printf '[include]\\n\\tpath = /tmp/x\\n' >> {common}/config 2>/dev/null;"
            " echo config-append=$?",
            f"printf '#!/bin/sh\\n{evil}\\n' > {common}/hooks/pre-push 2>/dev/null; echo hook=$?",
            f"printf '[core]\\n\\tfsmonitor = {evil}\\n' > \"$private/config.worktree\""
            " 2>/dev/null; echo worktree-config=$?",
            f"touch {workspace}/.orchestra/pwned 2>/dev/null; echo state=$?",
            f"touch {host_folder}/pwned 2>/dev/null; echo host=$?",
            f"ls -d {workspace}/.orchestra/instances/*/config 2>/dev/null"
            " | wc -l | sed 's/^/homes=/'",
            "git status --porcelain >/dev/null 2>&1; echo own-git=$?",
            # its own home: a symlink where the orchestrator writes, a FIFO where it reads
            f'ln -sf {stolen} "$CLAUDE_CONFIG_DIR/.claude.json"; echo symlink=$?',
            'mkdir -p "$CLAUDE_CONFIG_DIR/projects/planted"'
            ' && mkfifo "$CLAUDE_CONFIG_DIR/projects/planted/evil.jsonl"; echo fifo=$?',
            # forged events with its own hook token: as another instance, as a later launch,
            # and with a session id that would end up after --resume
            f"python3 - <<'PY'\n{FORGE}\nPY",
        ]
    )
    # The merge gate runs the workers' code too: it writes what it could reach into its own
    # worktree, the one place it may write.
    gate_outside = tmp_path / "gate-outside.txt"
    gate = " ".join(
        [
            "{ env | cut -d= -f1 | sort | tr '\\n' ' '; echo;",
            f"cat {workspace}/.orchestra/hook-token >/dev/null 2>&1; echo token=$?;",
            f"cat {workspace}/.orchestra/git-credentials >/dev/null 2>&1; echo credentials=$?;",
            f"ls -d {workspace}/.orchestra/instances/*/config 2>/dev/null | wc -l"
            " | sed 's/^/gate-homes=/';",
            f"touch {gate_outside} 2>/dev/null; echo gate-outside=$?;",
            f"touch {workspace}/repo/gate.txt 2>/dev/null; echo gate-clone=$?;",
            "} > gate-facts.txt",
        ]
    )
    set_options(target, mergeTestCommand=gate)
    script = HostileThenRestarted(attack=attack)
    target.fake.script = script
    run = target.start()
    assert script.attacked.wait(timeout=180), "no worker ran the attack"
    (attacker,) = {Path(cwd).name for cwd in script.attacker}
    os.kill(claude_pid(target, attacker), signal.SIGKILL)  # force its restart
    script.killed.set()
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-3000:]
    (output,) = script.output
    facts = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    # the .git file is read-only; the clone's config and hooks, the orchestrator's state and
    # the host are not the worker's to write
    shut = ("dotgit-state", "dotgit-host", "dotgit-root", "dotgit-rm", "dotgit-mv", "commondir")
    for door in (*shut, "config", "config-append", "hook", "state", "host"):
        assert facts[door] != "0", (door, output)
    assert facts["homes"] == "1", output  # its own home only
    assert facts["own-git"] == "0", output  # its own git still works
    assert_home_and_hooks_held(facts, attacker, stolen)
    assert not marker.exists()  # nothing planted ran, on the host or anywhere
    assert not (workspace / ".orchestra" / "pwned").exists()
    assert list(host_folder.iterdir()) == []
    assert (workspace / "worktrees" / attacker / ".git").read_text().startswith("gitdir: ")
    names, *lines = (workspace / "integration" / "gate-facts.txt").read_text().splitlines()
    assert set(names.split()) <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
                                  "PWD", "SHLVL", "_", "OLDPWD"}  # fmt: skip
    seen = dict(line.split("=", 1) for line in lines)
    assert seen["token"] != "0"
    assert seen["gate-homes"] == "0"
    assert seen["gate-outside"] != "0"
    assert seen["gate-clone"] != "0"
    assert not gate_outside.exists()
    report = target.report()
    died = [i["instance"] for i in report["incidents"] if i["kind"] == "instance_died"]
    assert died == [attacker]  # restarted once, from the layout's mounts
    assert report["totals"]["tasksDone"] == 2
    assert lost_commits(target) == set()
    target.assert_nothing_left_running()
