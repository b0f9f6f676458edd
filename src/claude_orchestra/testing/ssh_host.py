"""A second host on this machine, for tests of the ``remote`` runtime: ``sshd`` in a network
namespace of its own, reached over a veth pair, serving one dedicated user.

``SshHost.start(folder)`` (root only, Linux only) makes:

- a network namespace with its loopback up and one end of a veth pair holding a private
  address (the other end, in this namespace, holds its peer: the two make a /30);
- a user of its own (``orch<id>``) with its own home and a working folder
  (``<home>/work``), which every instance of the remote runtime runs as;
- a throw-away host key and client key (in ``folder``), the client's public key authorized
  for the user, and a ``known_hosts`` file naming the host key;
- ``sshd -D -e`` inside the namespace, listening on the veth address only; it is ready
  when it says so on stderr (read, not polled).

:meth:`SshHost.close` ends every process of the user (by pid), sshd, the user and its home,
and the namespace (which takes the veth pair with it). The namespace's own loopback is where
the remote runtime binds its reverse port forwards, so nothing is ever bound on a public
address.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import final

import attrs

SSHD = "/usr/sbin/sshd"
"""Debian's openssh-server puts the daemon outside a user's ``PATH``."""
_READY = "Server listening on"
_START_TIMEOUT = 20.0


def _run(*argv: str, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def missing() -> str | None:
    """Why a second host cannot be made here (``None``: it can)."""
    if os.uname().sysname != "Linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "making a network namespace and a user needs root"
    for tool in (SSHD, "ip", "ssh-keygen", "useradd", "userdel"):
        if not (Path(tool).exists() if tool.startswith("/") else shutil.which(tool)):
            return f"{tool} is not installed (run `make setup-test`: openssh-server, iproute2)"
    return None


@final
@attrs.frozen(kw_only=True)
class HostAccess:
    """How to reach the second host: what a ``remoteHosts`` entry of the config needs."""

    address: str
    port: int
    user: str
    identity_file: Path
    known_hosts: Path
    home: Path
    workdir: Path
    """The user's working folder (the runtime's ``workdir`` on this host)."""


@final
class SshHost:
    """A second host in a network namespace, reachable over SSH; a context manager."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        tag = secrets.token_hex(3)
        self.namespace = f"orch-{tag}"
        self.user = f"orch{tag}"
        self._veth = (f"oh{tag}", f"or{tag}")
        a, b = secrets.randbelow(200) + 20, secrets.randbelow(64) * 4
        self._host_ip = f"10.{a}.{secrets.randbelow(256)}.{b + 1}"
        self.address = self._host_ip.rsplit(".", 1)[0] + f".{b + 2}"
        self.home = Path("/home") / self.user
        self._sshd: subprocess.Popen[str] | None = None
        self._made: list[str] = []

    @property
    def access(self) -> HostAccess:
        """The address, user, key and known hosts to connect with."""
        return HostAccess(
            address=self.address,
            port=22,
            user=self.user,
            identity_file=self.folder / "client_key",
            known_hosts=self.folder / "known_hosts",
            home=self.home,
            workdir=self.home / "work",
        )

    @property
    def sshd_pid(self) -> int | None:
        """The listening sshd's pid."""
        return self._sshd.pid if self._sshd else None

    def session_pids(self) -> list[int]:
        """The pids of sshd's per-connection processes running as the user (killing one
        drops that connection)."""
        out = _run("ps", "-o", "pid=,args=", "-u", self.user, ok=(0, 1))  # 1: none
        return [
            int(pid)
            for pid, _, args in (line.strip().partition(" ") for line in out.splitlines())
            if args.startswith("sshd:")
        ]

    def user_pids(self) -> list[int]:
        """Every process running as the user."""
        out = _run("ps", "-o", "pid=", "-u", self.user, ok=(0, 1))  # 1: none
        return [int(p) for p in out.split()]

    def __enter__(self) -> SshHost:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self._network()
        self._account()
        self._keys()
        self._daemon()

    def _network(self) -> None:
        ns, (outer, inner) = self.namespace, self._veth
        _run("ip", "netns", "add", ns)
        self._made.append("netns")
        _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        _run("ip", "link", "set", inner, "netns", ns)
        _run("ip", "addr", "add", f"{self._host_ip}/30", "dev", outer)
        _run("ip", "link", "set", outer, "up")
        inside = ("ip", "netns", "exec", ns)
        _run(*inside, "ip", "addr", "add", f"{self.address}/30", "dev", inner)
        _run(*inside, "ip", "link", "set", inner, "up")
        _run(*inside, "ip", "link", "set", "lo", "up")

    def _account(self) -> None:
        # "*": no password, yet not locked ("!"), which sshd without PAM refuses
        _run("useradd", "--create-home", "--home-dir", str(self.home), "--shell", "/bin/bash",
             "--password", "*", self.user)  # fmt: skip
        self._made.append("user")
        work = self.home / "work"
        work.mkdir(mode=0o700)
        shutil.chown(work, self.user, self.user)

    def _keys(self) -> None:
        for name in ("host_key", "client_key"):
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name,
                 "-f", str(self.folder / name))  # fmt: skip
        ssh_dir = self.home / ".ssh"
        ssh_dir.mkdir(mode=0o700)
        keys = ssh_dir / "authorized_keys"
        keys.write_text((self.folder / "client_key.pub").read_text())
        keys.chmod(0o600)
        for path in (ssh_dir, keys):
            shutil.chown(path, self.user, self.user)
        host_pub = (self.folder / "host_key.pub").read_text().split()
        (self.folder / "known_hosts").write_text(f"{self.address} {host_pub[0]} {host_pub[1]}\n")

    def _daemon(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation
        config = self.folder / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"ListenAddress {self.address}",
                    "Port 22",
                    f"HostKey {self.folder / 'host_key'}",
                    f"PidFile {self.folder / 'sshd.pid'}",
                    f"AllowUsers {self.user}",
                    "AuthorizedKeysFile .ssh/authorized_keys",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin no",
                    "UsePAM no",
                    "AllowTcpForwarding remote",
                    "GatewayPorts no",
                    "X11Forwarding no",
                    "AllowAgentForwarding no",
                    "PermitTunnel no",
                    "ClientAliveInterval 5",
                    "ClientAliveCountMax 2",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )
        sshd = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._sshd = sshd
        ready = threading.Event()
        lines: list[str] = []

        def watch() -> None:
            assert sshd.stderr is not None
            for line in sshd.stderr:
                lines.append(line.rstrip())
                if _READY in line:
                    ready.set()
            ready.set()  # it exited

        threading.Thread(target=watch, daemon=True).start()
        if not ready.wait(_START_TIMEOUT) or sshd.poll() is not None:
            raise RuntimeError(f"sshd did not start: {' | '.join(lines[-5:])}")

    def close(self) -> None:
        """Tear everything down (each step on its own: one failure does not stop the rest)."""
        if "user" in self._made:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                for pid in self.user_pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        if self._sshd is not None and self._sshd.poll() is None:
            self._sshd.terminate()
            try:
                self._sshd.wait(10)
            except subprocess.TimeoutExpired:
                self._sshd.kill()
                self._sshd.wait(10)
        if self._sshd is not None and self._sshd.stderr is not None:
            self._sshd.stderr.close()
        if "user" in self._made:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run("userdel", "--remove", "--force", self.user)
        if "netns" in self._made:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run("ip", "netns", "delete", self.namespace)
        self._made.clear()
