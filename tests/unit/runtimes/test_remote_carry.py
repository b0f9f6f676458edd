"""Carrying a killed run's sessions into the resumed run's homes on a host: Claude Code's
project folder names, the script's copies (run here on plain folders: it is standard
library only) and what its report says."""

from __future__ import annotations

import os
import shlex
from pathlib import Path, PurePosixPath

import pytest

from claude_orchestra.runtimes.base import CarriedSessions
from claude_orchestra.runtimes.remote import commands as sh
from claude_orchestra.runtimes.remote.carried import Carry, carries, parse_carried
from claude_orchestra.runtimes.remote.carrying import carry, main, project_dir_name
from claude_orchestra.workspace import Workspace

SESSION = "c58a1925-2c49-4b50-ad51-7c545b47ac5a"
HOME = ".orchestra/instances/worker-1/config"
CWD = "worktrees/worker-1"


@pytest.mark.parametrize(
    ("cwd", "name"),
    [
        (
            "/home/u/work/orchestra-1a2b/worktrees/worker-1",
            "-home-u-work-orchestra-1a2b-worktrees-worker-1",
        ),
        ("/scratch/my_proj.v2 x/sub-dir", "-scratch-my-proj-v2-x-sub-dir"),
        ("/a/é𝄞x", "-a----x"),  # JavaScript replaces UTF-16 units: two for 𝄞
        # over 200 characters: cut, then the base-36 hash the pinned Claude Code computes
        ("/home/u/" + "x" * 210, "-home-u-" + "x" * 192 + "-4at0sl"),
        ("/r/" + "ab/" * 80, ("-r-" + "ab-" * 80)[:200] + "-9djfxo"),
    ],
)
def test_the_project_folder_is_named_as_claude_code_names_it(cwd: str, name: str) -> None:
    assert project_dir_name(cwd) == name


def test_the_workers_homes_and_worktrees_are_relative_to_the_run_folder(tmp_path: Path) -> None:
    layout = Workspace(tmp_path)
    found = carries(layout, {"manager": SESSION, "worker-2": SESSION})
    assert found == [
        Carry(
            instance="worker-2",
            session=SESSION,
            config=PurePosixPath(".orchestra/instances/worker-2/config"),
            cwd=PurePosixPath("worktrees/worker-2"),
        )
    ]


def test_the_command_names_each_session_and_quotes_every_value() -> None:
    one = Carry(
        instance="worker-1", session=SESSION, config=PurePosixPath(HOME), cwd=PurePosixPath(CWD)
    )
    command = sh.carry_sessions(
        "python3", PurePosixPath("/h/old run"), PurePosixPath("/h/new"), [one]
    )
    assert shlex.split(command) == [
        "python3", "-I", "-S", "-", "/h/old run", "/h/new", "worker-1", SESSION, HOME, CWD,
    ]  # fmt: skip


def test_the_report_is_read_for_the_instances_asked_only() -> None:
    printed = (
        "carried worker-1\nempty worker-2\nlost worker-3 no project folder\ncarried w-9\njunk\n"
    )
    handed = parse_carried(printed, ["worker-1", "worker-2", "worker-3", "worker-4"])
    assert handed == CarriedSessions(
        carried=frozenset({"worker-1"}),
        lost={
            "worker-3": "no project folder",
            "worker-4": "the host did not say it was carried",
        },
    )


def old_session(old: Path, text: str = '{"type":"user","message":{}}\n') -> Path:
    """A killed run's transcript of worker-1, where its Claude Code put it."""
    project = old / HOME / "projects" / project_dir_name(str(old.resolve() / CWD))
    project.mkdir(parents=True)
    transcript = project / f"{SESSION}.jsonl"
    transcript.write_text(text)
    return transcript


def new_project(new: Path) -> Path:
    return new / HOME / "projects" / project_dir_name(str(new.resolve() / CWD))


def test_a_session_goes_under_the_new_worktrees_project_folder_with_its_own(
    tmp_path: Path,
) -> None:
    old, new = tmp_path / "orchestra-old", tmp_path / "orchestra-new"
    transcript = old_session(old)
    (transcript.parent / SESSION / "subagents").mkdir(parents=True)
    (transcript.parent / SESSION / "subagents" / "agent-1.jsonl").write_text("sub\n")
    (transcript.parent / SESSION / "escape").symlink_to(tmp_path)  # not followed
    assert carry(str(old), str(new), SESSION, HOME, CWD) == "carried"
    project = new_project(new)
    assert (project / f"{SESSION}.jsonl").read_text() == transcript.read_text()
    assert (project / SESSION / "subagents" / "agent-1.jsonl").read_text() == "sub\n"
    assert not (project / SESSION / "escape").exists()
    assert (project / f"{SESSION}.jsonl").stat().st_mode & 0o077 == 0
    assert [p.name for p in (new / HOME).iterdir()] == ["projects"]  # nothing else


def test_a_transcript_without_a_conversation_is_not_carried(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old_session(old, '{"type":"system"}\n')
    assert carry(str(old), str(new), SESSION, HOME, CWD) == "empty"
    assert not (new_project(new) / f"{SESSION}.jsonl").exists()


def test_a_planted_link_or_a_missing_transcript_loses_the_session(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    transcript = old_session(old)
    secret = tmp_path / "elsewhere.jsonl"
    secret.write_text('{"type":"user"}\n')
    transcript.unlink()
    assert carry(str(old), str(new), SESSION, HOME, CWD).startswith("lost ")
    transcript.symlink_to(secret)
    assert carry(str(old), str(new), SESSION, HOME, CWD).startswith("lost ")
    assert not (new_project(new) / f"{SESSION}.jsonl").exists()
    assert carry(str(old), str(new), "../../etc", HOME, CWD) == "lost not a session id"
    assert carry(str(tmp_path / "gone"), str(new), SESSION, HOME, CWD).startswith(
        "lost no project folder"
    )


def test_the_script_prints_one_line_per_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old_session(old)
    umask = os.umask(0o022)
    try:
        code = main(
            [str(old), str(new), "worker-1", SESSION, HOME, CWD, "worker-2", "x", HOME, CWD]
        )
    finally:
        os.umask(umask)
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "carried worker-1",
        "lost worker-2 not a session id",
    ]
    assert main(["only-one"]) == 2
