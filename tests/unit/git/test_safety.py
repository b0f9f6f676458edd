"""The pure parts of the git layer: redaction, git's reason, ref names."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from claude_orchestra.git.config import config_problems
from claude_orchestra.git.env import Checkout, credential_helper
from claude_orchestra.git.strings import check_ref_name, check_rev, reason_of, redact, url_secrets


def test_redact_removes_user_information_from_urls() -> None:
    text = "fatal: unable to access 'https://user:tok3n@example.com/x.git/': 403"
    assert redact(text) == "fatal: unable to access 'https://***@example.com/x.git/': 403"
    assert (
        redact("see http://TOKEN@h/x and ssh://git@h/y") == "see http://***@h/x and ssh://***@h/y"
    )


def test_redact_removes_known_secrets_anywhere() -> None:
    assert redact("token tok3n leaked", ["tok3n"]) == "token *** leaked"


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("https://user:pa%2Fss@host/x.git", {"pa%2Fss", "pa/ss"}),
        ("https://TOKEN@host/x.git", {"TOKEN"}),
        ("https://host/x.git", set()),
        ("/srv/origin.git", set()),
        ("git@github.com:org/repo.git", set()),
    ],
)
def test_url_secrets(url: str, secrets: set[str]) -> None:
    assert set(url_secrets(url)) == secrets


def test_reason_is_the_first_fatal_or_error_line_without_its_prefix() -> None:
    stderr = "Cloning into 'r'...\nhint: try this\nfatal: repository '/x' does not exist\n"
    assert reason_of(stderr) == "repository '/x' does not exist"


def test_reason_of_a_rejected_push() -> None:
    stderr = (
        "To /tmp/origin.git\n"
        " ! [rejected]        worker-1 -> worker-1 (fetch first)\n"
        "error: failed to push some refs to '/tmp/origin.git'\n"
        "hint: Updates were rejected because the remote contains work\n"
    )
    assert reason_of(stderr) == "[rejected] worker-1 -> worker-1 (fetch first)"


def test_reason_keeps_the_ssh_cause() -> None:
    stderr = "ssh: Could not resolve hostname h\nfatal: Could not read from remote repository.\n"
    assert (
        reason_of(stderr)
        == "ssh: Could not resolve hostname h; Could not read from remote repository."
    )


def test_reason_never_shows_a_token() -> None:
    stderr = "fatal: unable to access 'https://u:s3cr3t@h/x.git/': Failed\n"
    assert "s3cr3t" not in reason_of(stderr)
    assert "s3cr3t" not in reason_of("fatal: s3cr3t rejected", secrets=["s3cr3t"])


def test_reason_of_a_killed_git() -> None:
    stderr = 'Timeout: the command "git fetch origin" did not complete in 600 secs.'
    assert reason_of(stderr) == "timed out after 600 s"


def test_reason_without_output() -> None:
    assert reason_of("", "") == "failed"
    assert reason_of("", "Automatic merge failed\n") == "Automatic merge failed"


@pytest.mark.parametrize(
    "name", ["worker-1", "refs/orchestra/preserved/worker-1/2024-01-01T10.00", "main"]
)
def test_valid_ref_names(name: str) -> None:
    assert check_ref_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-x",
        "a..b",
        "a/../b",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[",
        "a\\b",
        "a.lock",
        "a/.hidden",
        "a//b",
        "a/",
        "a.",
        "@",
        "a@{1}",
    ],
)
def test_invalid_ref_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid git ref name"):
        check_ref_name(name)


def test_revisions_that_look_like_options_are_refused() -> None:
    assert check_rev("origin/main") == "origin/main"
    with pytest.raises(ValueError, match="not a revision"):
        check_rev("--upload-pack=evil")


# ---- the configuration host-side git runs with (issue #14) -------------------------------


def test_the_credential_helper_path_is_shell_quoted() -> None:
    helper = credential_helper(Path("/ws;touch x;#/.orchestra/git-credentials"))
    assert helper == "store --file='/ws;touch x;#/.orchestra/git-credentials'"
    assert shlex.split(helper) == ["store", "--file=/ws;touch x;#/.orchestra/git-credentials"]
    assert credential_helper(None) is None


@pytest.mark.parametrize(
    "key",
    [
        "include.path",
        "includeif.gitdir:/x/.path",
        "filter.lfs.smudge",
        "filter.x.process",
        "merge.x.driver",
        "diff.external",
        "diff.x.textconv",
        "gpg.program",
        "url./x.insteadof",
        "url./x.pushinsteadof",
        "core.gitproxy",
        "core.worktree",
        "remote.origin.uploadpack",
        "remote.origin.receivepack",
        "remote.origin.pushurl",
        "remote.evil.url",
        "credential.https://x.helper",
        "uploadpack.packobjectshook",
        "sequence.editor.x",
        "alias.st",
        "submodule.x.update",
    ],
)
def test_a_key_outside_the_allowlist_is_a_problem(key: str) -> None:
    assert config_problems([(key, "anything")], None) == [key]


def test_what_a_fresh_clone_and_the_orchestrator_write_is_allowed() -> None:
    entries = [
        ("core.repositoryformatversion", "0"),
        ("core.filemode", "true"),
        ("core.bare", "false"),
        ("core.logallrefupdates", "true"),
        ("remote.origin.url", "/srv/origin.git"),
        ("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"),
        ("branch.main.remote", "origin"),
        ("branch.main.merge", "refs/heads/main"),
        ("branch.worker-1.remote", "origin"),
        ("credential.helper", ""),
        ("credential.helper", "store --file=/x"),
        ("user.name", "someone"),
        ("core.hookspath", ".husky"),  # overridden on every command line
        ("core.fsmonitor", "true"),
    ]
    assert config_problems(entries, "/srv/origin.git") == []


def test_origin_must_be_one_url_and_the_cloned_one() -> None:
    one = [("remote.origin.url", "/a")]
    assert config_problems(one, "/b") == ["remote.origin.url (not the clone's origin)"]
    two = [("remote.origin.url", "/a"), ("remote.origin.url", "/b")]
    assert config_problems(two, None) == ["remote.origin.url (more than one)"]


def test_every_overridden_key_is_set_on_the_command_line(tmp_path: Path) -> None:
    checkout = Checkout.clone(tmp_path / "repo", credentials_file=tmp_path / "c")
    options = checkout.options()
    pairs = [options[i + 1] for i in range(0, len(options), 2)]
    assert all(options[i] == "-c" for i in range(0, len(options), 2))
    for key in ("core.hooksPath", "core.fsmonitor", "core.sshCommand", "protocol.ext.allow"):
        assert any(pair.startswith(f"{key}=") for pair in pairs), key
    helpers = [p for p in pairs if p.startswith("credential.helper=")]
    assert helpers == ["credential.helper=", f"credential.helper=store --file={tmp_path / 'c'}"]
    env = checkout.environment()
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_DIR"] == str(tmp_path / "repo" / ".git")
    assert not any(k.startswith(("ANTHROPIC", "CLAUDE")) for k in env)
