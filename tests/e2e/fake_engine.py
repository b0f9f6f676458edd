"""A stand-in for the docker CLI, for testing the container runtime's plumbing where no
engine runs: ``run`` executes the command on the host (no isolation) with only the
variables named by ``--env`` and the image's ``claude`` mapped to ``$FAKE_ENGINE_CLAUDE``;
``info``, ``ps`` and ``rm`` answer as an engine with no containers left would. Every call
is logged (argv only) to ``$FAKE_ENGINE_LOG``; with ``$FAKE_ENGINE_ENV_LOG`` set, so is the
environment each ``run`` gives its container.
"""

from __future__ import annotations

import json
import os
import sys

VALUED = {"--name", "--label", "--network", "--user", "--workdir", "--mount", "--env"}


def main(argv: list[str]) -> int:
    with open(os.environ["FAKE_ENGINE_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(argv) + "\n")
    if not argv or argv[0] != "run":
        return 0  # info, ps (no containers), rm
    options: dict[str, list[str]] = {}
    rest = argv[1:]
    while rest and rest[0].startswith("--"):
        flag = rest.pop(0)
        if flag in VALUED:
            options.setdefault(flag, []).append(rest.pop(0))
    _image, command, *args = rest
    env = {name: os.environ[name] for name in options.get("--env", []) if name in os.environ}
    if "FAKE_ENGINE_ENV_LOG" in os.environ:
        with open(os.environ["FAKE_ENGINE_ENV_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps(env) + "\n")
    env["PATH"] = os.environ["PATH"]
    os.chdir(options["--workdir"][0])
    program = os.environ["FAKE_ENGINE_CLAUDE"] if command == "claude" else command
    os.execve(program, [program, *args], env)  # noqa: S606 (a stand-in for `run`)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
