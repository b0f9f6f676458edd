"""What goes into git and comes out of it, as text, without running git.

Ref names and revisions are checked before they reach a command line; credentials in a URL
are found, split off or blanked; git's output is read for its reason, credentials removed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
_NOISE: Final = ("hint:", "Cloning into", "Preparing worktree", "To ", "From ", "warning:")
_KILLED = re.compile(r"^Timeout: the command .* did not complete in (?P<seconds>\S+) secs")
_REF_COMPONENT_BAD = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{")


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with the user information of every URL and each of ``secrets`` removed.

    Args:
        text: Anything git printed.
        secrets: Values to blank out wherever they appear (a URL's password or token).

    Returns:
        The text, with ``https://user:token@host`` shown as ``https://***@host``.
    """
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of ``url`` that may be credentials: its password, else its user name.

    A token is often given as the user name alone (``https://TOKEN@host/repo.git``).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    found = [parts.password] if parts.password else [parts.username]
    return tuple({v for s in found if s for v in (s, unquote(s))})


def reason_of(stderr: str, stdout: str = "", secrets: Sequence[str] = ()) -> str:
    """Git's first meaningful line of output, credentials removed.

    A push's ``! [rejected] ...`` line and ``fatal:``/``error:`` lines come first, without
    their prefix; hints and progress lines never count.
    """
    killed = _KILLED.search(stderr)
    if killed:  # killed at its deadline (gitenv.run)
        return f"timed out after {killed['seconds']} s"
    lines = [" ".join(line.split()) for line in f"{stderr}\n{stdout}".splitlines()]
    lines = [line for line in lines if line and not line.startswith(_NOISE)]
    for index, line in enumerate(lines):
        prefix = next((p for p in ("! ", "fatal: ", "error: ") if line.startswith(p)), None)
        if prefix is not None:
            # ssh and the server explain *why* just before git's generic last word.
            why = [p for p in lines[:index] if p.startswith(("ssh: ", "remote: "))][:1]
            return redact("; ".join([*why, line.removeprefix(prefix)]), secrets)
    return redact(lines[0], secrets) if lines else "failed"


def check_ref_name(name: str) -> str:
    """``name`` if git accepts it as a branch or ref name, else :class:`ValueError`."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("-")
        or name.endswith((".", "/"))
        or _REF_COMPONENT_BAD.search(name)
        or any(not p or p.startswith(".") or p.endswith(".lock") for p in parts)
        or name == "@"
    ):
        raise ValueError(f"not a valid git ref name: {name!r}")
    return name


def check_rev(rev: str) -> str:
    """``rev`` unless it could be read as an option (starts with ``-``) or is empty."""
    if not rev or rev.startswith("-") or "\x00" in rev:
        raise ValueError(f"not a revision: {rev!r}")
    return rev


def split_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without its user and password, and a ``git credential-store`` line holding
    them (``None`` when an http(s) URL carries no password: it is left as it is)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, None
    if parts.scheme not in {"http", "https"} or not parts.password:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return bare, f"{parts.scheme}://{parts.netloc}"
