"""Configuration: the config folder, compatible with the original TypeScript tool.

A config folder holds ``orchestrator.json`` (required) and ``api-keys.json`` (optional).
Both are parsed at the boundary by one strict cattrs converter: unknown keys, wrong types
and out-of-range values are rejected, each as one line ``<file>: <field>: <reason>`` with
the field spelled as in the file. Every problem is reported, not just the first, and no
message ever quotes a value from ``api-keys.json``.

The same classes are built directly from Python (validators live on the fields)::

    config = RunConfig(
        config_dir=Path("."),
        orchestrator=OrchestraConfig(repository_url="git@github.com:me/app.git"),
        credentials=(),
    )
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, final

import attrs
import cattrs

from claude_orchestra.api_keys import load_api_keys_json
from claude_orchestra.auth import AuthMode
from claude_orchestra.budget import BudgetConfig
from claude_orchestra.config_files import read_config_json
from claude_orchestra.credentials import Credential
from claude_orchestra.errors import ConfigError
from claude_orchestra.gitstrings import redact
from claude_orchestra.notifications import NotifyConfig
from claude_orchestra.refnames import branch_problem
from claude_orchestra.remote.hosts import RemoteHost, hosts_problems
from claude_orchestra.taskfile import TASK_FILE
from claude_orchestra.transcripts import Price

ORCHESTRATOR_JSON = "orchestrator.json"
API_KEYS_JSON = "api-keys.json"

_T = TypeVar("_T")

_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:.+$")

#: Folders a workspace may never be, nor be inside: the system's own.
SYSTEM_DIRS = tuple(
    Path(p)
    for p in (
        "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
        "/run", "/sbin", "/sys", "/usr",
    )
)  # fmt: skip
#: Folders a workspace may be inside of, but never be: they hold what is not the run's.
SHARED_DIRS = tuple(
    Path(p)
    for p in ("/", "/home", "/root", "/var", "/tmp", "/opt", "/srv", "/mnt", "/media")  # noqa: S108
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _between(low: int, high: int) -> Callable[[Any, attrs.Attribute[Any], int], None]:
    def check(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")

    return check


def _at_least(low: float) -> Callable[[Any, attrs.Attribute[Any], float | None], None]:
    def check(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
        if value is not None and not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value:g}")
        if value is not None and value < low:
            raise ValueError(f"must be at least {low:g}, got {value:g}")

    return check


def _positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value:g}")
    if not value > 0:
        raise ValueError(f"must be greater than 0, got {value:g}")


def _fraction(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and 0 < value <= 1):
        raise ValueError(f"must be a share between 0 and 1, got {value:g}")


def _repository_url(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise ValueError("must not be empty")
    schemes = ("https://", "http://", "ssh://", "git://", "file://")
    if not (value.startswith(schemes) or _SCP_LIKE.match(value) or "://" not in value):
        raise ValueError("must be an https, ssh or file:// URL, or a local path")


def _branch(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if reason := branch_problem(value):
        raise ValueError(f"is not a valid branch name: {reason}")


def _workspace_dir(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (not value.strip() or not value.isprintable()):
        raise ValueError("must be a non-empty path without control characters")


def _repo_path(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    parts = value.split("/")
    if not value or value.startswith("/") or ".." in parts or "" in parts or ".git" in parts:
        raise ValueError(f"must be a path inside the repository, got {value!r}")


def _engine(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and value not in {"docker", "podman"}:
        raise ValueError(f"must be docker or podman, got {value!r}")


def _image(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:@-]*", value):
        raise ValueError(f"is not an image reference: {value!r}")


def _name(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", value):
        raise ValueError(f"must be a plugin strategy name (lowercase), got {value!r}")


@final
@attrs.frozen(kw_only=True)
class OrchestraConfig:
    """``orchestrator.json``: the original tool's keys and ours (camelCase in the file)."""

    repository_url: str = attrs.field(validator=_repository_url)
    """The target repository: https, ssh, ``file://`` or a local path."""
    branch: str = attrs.field(default="main", validator=_branch)
    """The run branch: workers start from it, merges land on it."""
    worker_count: int = attrs.field(default=2, validator=_between(1, 20))
    claude_configs: str | list[str] | None = None
    """Accepted for compatibility with the original tool; unused."""
    hook_server_port: int = attrs.field(default=3000, validator=_between(0, 65535))
    """The hook app's port on 127.0.0.1; 0 picks a free one."""
    max_run_duration_minutes: float = attrs.field(default=120, validator=_positive)
    clone_depth: int | None = attrs.field(default=None, validator=_at_least(1))
    """Shallow clone depth (original tool's key)."""
    health_check_interval_ms: int | None = attrs.field(default=None, validator=_at_least(1))
    """Accepted for compatibility; unused (we react to events, we do not poll)."""
    rate_limit_check_interval_ms: int | None = attrs.field(default=None, validator=_at_least(1))
    """Accepted for compatibility; unused (limits arrive as StopFailure events)."""
    stuck_threshold_ms: int | None = attrs.field(default=None, validator=_at_least(1000))
    """Milliseconds a working instance may show no progress before it is restarted on its
    conversation (default 30000; the original tool's was 120000)."""
    max_tool_uses_per_instance: int | None = attrs.field(default=None, validator=_at_least(1))
    """Accepted for compatibility; unused."""
    max_total_tool_uses: int | None = attrs.field(default=None, validator=_at_least(1))
    """Accepted for compatibility; unused."""
    workspace_dir: str | None = attrs.field(default=None, validator=_workspace_dir)
    """Where the run keeps its clone, worktrees and ``.orchestra``; default
    ``<config folder>/workspace``; relative to the config folder."""
    auth_mode: AuthMode = AuthMode.OAUTH
    model: str | None = None
    """``--model`` for every instance (default: Claude Code's own)."""
    claude_command: str | None = None
    """The claude executable (default: the project-local install, else ``claude``)."""
    scheduler: str = attrs.field(default="manager", validator=_name)
    """``manager`` (the original tool's task lists) or ``queue`` (the task file), or a
    plugin's strategy."""
    merger: str = attrs.field(default="manager", validator=_name)
    """``manager`` (the manager merges) or ``queue`` (the orchestrator's merge queue), or a
    plugin's strategy."""
    runtime: str = attrs.field(default="local", validator=_name)
    """Where instances run: ``local`` (tmux), ``sandbox`` (tmux + bubblewrap),
    ``container`` (tmux + Docker or Podman), ``remote`` (workers on other hosts over SSH),
    or a plugin's runtime."""
    remote_hosts: tuple[RemoteHost, ...] = ()
    """With ``"runtime": "remote"``: the hosts the workers run on, each with its
    ``workers`` (they add up to ``workerCount``); see the remote hosts how-to."""
    container_engine: str | None = attrs.field(default=None, validator=_engine)
    """With ``"runtime": "container"``: ``docker`` or ``podman`` (default: whichever is
    installed, docker first)."""
    container_image: str = attrs.field(default="claude-orchestra:latest", validator=_image)
    """With ``"runtime": "container"``: the image holding Claude Code
    (``docker/Dockerfile``)."""
    task_file: str = attrs.field(default=TASK_FILE, validator=_repo_path)
    """With ``"scheduler": "queue"``: the task file on the run branch, relative to the
    repository root."""
    api_timeout_ms: int | None = attrs.field(default=None, validator=_at_least(1000))
    """``API_TIMEOUT_MS`` for every instance."""
    max_retries: int = attrs.field(default=0, validator=_between(0, 15))
    """``CLAUDE_CODE_MAX_RETRIES``: low, so limits surface in seconds."""
    rate_limit_cooldown_seconds: float = attrs.field(default=300, validator=_positive)
    """How long a rate-limited credential rests when the limit names no reset time."""
    broker: bool = False
    """Run every instance through the credential broker (:mod:`claude_orchestra.broker`):
    instances hold a token of the run instead of a credential, and a rate limit moves a
    request to the next credential with no restart. Off by default (see
    ``docs/explanation/broker.md``)."""
    broker_near_limit: float | None = attrs.field(default=None, validator=_fraction)
    """With ``"broker": true``: move new requests off a credential whose answers report
    this share of a limit used (``0.9``); ``null``: only after a 429."""
    merge_test_command: str | None = None
    """With ``"merger": "queue"``: a shell command run on each merged result before it is
    pushed (``make test``, ``pytest -q``); a failure sends the branch back to its worker."""
    merge_test_timeout_seconds: float = attrs.field(default=600, validator=_positive)
    idle_retries: int = attrs.field(default=1, validator=_between(0, 10))
    """Follow-up prompts for a worker that stopped without committing, before its task is
    handed back to the manager."""
    budget: BudgetConfig = attrs.field(factory=BudgetConfig)
    """Spending limits for the run, each instance and each credential (none by default)."""
    prices: dict[str, Price] = attrs.field(factory=dict)
    """USD per million tokens by model, over the built-in table."""
    notify: NotifyConfig = attrs.field(factory=NotifyConfig)
    """Where to tell a person about limits, budgets, stalls and the run's end (#15)."""
    dashboard: bool = False
    """Serve the web dashboard on the hook server (127.0.0.1), behind a per-run token;
    ``run`` prints its URL (``run --dashboard`` turns it on for one run)."""


@final
@attrs.frozen(kw_only=True)
class RunConfig:
    """What a run needs: the config folder, ``orchestrator.json``, the credentials."""

    config_dir: Path = attrs.field(converter=Path)
    orchestrator: OrchestraConfig
    credentials: tuple[Credential, ...] = ()

    @property
    def workspace(self) -> Path:
        """The workspace folder, resolved against the config folder."""
        chosen = self.orchestrator.workspace_dir
        path = Path(chosen).expanduser() if chosen else Path("workspace")
        return (self.config_dir / path).resolve()

    @property
    def repository(self) -> str:
        """The repository URL, with a relative local path resolved against the config folder."""
        url = self.orchestrator.repository_url
        if "://" in url or _SCP_LIKE.match(url):
            return url
        return str((self.config_dir / Path(url).expanduser()).resolve())

    @property
    def printable_repository(self) -> str:
        """``repositoryUrl`` as it may be printed: a user or token in it blanked out
        (``https://***@host/...``)."""
        return redact(self.orchestrator.repository_url)

    def with_workspace(self, workspace: Path) -> RunConfig:
        """A copy that uses ``workspace`` (the CLI's ``--workspace``).

        Raises:
            ConfigError: ``workspace`` is a folder no run may use (:func:`workspace_problem`).
        """
        settings = attrs.evolve(self.orchestrator, workspace_dir=str(workspace.resolve()))
        changed = attrs.evolve(self, orchestrator=settings)
        if reason := workspace_problem(changed.workspace, self.config_dir):
            raise ConfigError("--workspace", [f"{workspace}: {reason}"])
        return changed


def workspace_problem(workspace: Path, config_dir: Path) -> str | None:
    """Why ``workspace`` (resolved) must not hold a run, or ``None``: a run clones, writes
    and, on ``cleanup``, deletes there, so it may not be the root, a home or shared folder,
    a system folder or inside one, the config folder or a folder that holds it."""
    config_dir = config_dir.resolve()
    home = Path.home().resolve()
    reason: str | None = None
    if workspace in SHARED_DIRS or workspace == home or home.is_relative_to(workspace):
        reason = "is the root, a home folder or a shared system folder"
    elif any(workspace.is_relative_to(system) for system in SYSTEM_DIRS):
        reason = "is a system folder or inside one"
    elif config_dir.is_relative_to(workspace):
        reason = "is the config folder or holds it"
    return reason


def _reject_bool(value: Any, kinds: tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"must be {what}, got {json.dumps(value)[:40]}")
    return value


def _structure_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"must be true or false, got {json.dumps(value)[:40]}")
    return value


def _build_converter() -> cattrs.Converter:
    """Type checks per field; the field validators give the range checks."""
    converter = cattrs.Converter(forbid_extra_keys=True)

    def structure_int(value: Any, _: type) -> int:
        result: int = _reject_bool(value, (int,), "an integer")
        return result

    def structure_float(value: Any, _: type) -> float:
        return float(_reject_bool(value, (int, float), "a number"))

    def structure_str(value: Any, _: type) -> str:
        result: str = _reject_bool(value, (str,), "a string")
        if "\x00" in result:
            raise ValueError("must not hold a NUL byte")
        return result

    def structure_configs(value: Any, _: type) -> str | list[str] | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise TypeError("must be a string or a list of strings")

    def structure_mode(value: Any, _: type) -> AuthMode:
        try:
            return AuthMode(value)
        except ValueError:
            choices = ", ".join(m.value for m in AuthMode)
            raise ValueError(f"must be one of {choices}, got {json.dumps(value)[:40]}") from None

    converter.register_structure_hook(int, structure_int)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(float, structure_float)
    converter.register_structure_hook(str, structure_str)
    converter.register_structure_hook(str | list[str] | None, structure_configs)
    converter.register_structure_hook(AuthMode, structure_mode)
    return converter


for _cls in (OrchestraConfig, BudgetConfig, Price, NotifyConfig, RemoteHost):
    attrs.resolve_types(_cls)
_converter = _build_converter()


def parse_orchestrator(data: Any, *, path: Path | str = ORCHESTRATOR_JSON) -> OrchestraConfig:
    """``orchestrator.json``'s decoded JSON as a value.

    Every key is checked on its own (type, then range), so one load reports every problem;
    keys of nested objects are named with dots (``budget.usd``).

    Raises:
        ConfigError: one line per problem.
    """
    problems: list[str] = []
    config = _parse_object(data, OrchestraConfig, "", problems)
    if config is not None:
        problems += hosts_problems(
            config.runtime, config.remote_hosts, config.worker_count, config.repository_url
        )
        if config.runtime == "remote" and config.budget.is_set and not config.broker:
            # the workers' transcripts stay on their hosts: only the broker sees their spend
            problems.append(
                'budget: with "runtime": "remote" the workers\' spend is counted only by '
                'the credential broker: set "broker": true'
            )
    if problems or config is None:
        raise ConfigError(path, problems or ["(top level): must be a JSON object"])
    return config


def _parse_object(data: Any, cls: type[_T], prefix: str, problems: list[str]) -> _T | None:
    """One attrs class from a JSON object; problems are appended, named ``prefix + key``."""
    if not isinstance(data, dict):
        problems.append(f"{prefix.rstrip('.') or '(top level)'}: must be a JSON object")
        return None
    fields = {_camel(f.name): f for f in attrs.fields(cls)}  # type: ignore[arg-type]
    before = len(problems)
    problems.extend(f"{prefix}{key}: unknown key" for key in data if key not in fields)
    values: dict[str, Any] = {}
    for key, field in fields.items():
        if key not in data:
            if field.default is attrs.NOTHING:
                problems.append(f"{prefix}{key}: required")
            continue
        try:
            value = _parse_value(data[key], field.type, f"{prefix}{key}", problems)
            if field.validator is not None and value is not None:
                field.validator(None, field, value)
        except (TypeError, ValueError, cattrs.BaseValidationError) as exc:
            problems.append(f"{prefix}{key}: {_reason(exc)}")
        else:
            values[field.name] = value
    return cls(**values) if len(problems) == before else None


def _parse_value(value: Any, kind: Any, name: str, problems: list[str]) -> Any:
    if attrs.has(kind):
        return _parse_object(value, kind, f"{name}.", problems)
    if kind == tuple[RemoteHost, ...]:
        if not isinstance(value, list):
            raise TypeError("must be a list of host objects")
        hosts = [
            _parse_object(host, RemoteHost, f"{name}[{i}].", problems)
            for i, host in enumerate(value)
        ]
        return tuple(h for h in hosts if h is not None)
    if kind == dict[str, Price]:
        if not isinstance(value, dict):
            raise TypeError("must be a JSON object of model names")
        return {
            model: _parse_object(price, Price, f"{name}.{model}.", problems)
            for model, price in value.items()
        }
    return _converter.structure(value, kind)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError) and exc.exceptions:
        return _reason(exc.exceptions[0])
    return str(exc) or type(exc).__name__


def load_orchestrator_json(path: Path) -> OrchestraConfig:
    """Read and check ``orchestrator.json``."""
    return parse_orchestrator(read_config_json(path), path=path)


def dump_orchestrator_json(config: OrchestraConfig) -> dict[str, Any]:
    """The camelCase document for ``config`` (defaults included); loading it gives ``config``."""
    dumped: dict[str, Any] = _dump(config)
    return dumped


def _dump(value: Any) -> Any:
    if attrs.has(type(value)):
        return {_camel(f.name): _dump(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_dump(v) for v in value]
    return value


def load_config(config_dir: Path | str) -> RunConfig:
    """Read a config folder: ``orchestrator.json`` and, if present, ``api-keys.json``.

    Raises:
        ConfigError: the folder or a file is missing, malformed or holds a bad value.
    """
    if "\x00" in str(config_dir):
        raise ConfigError(str(config_dir).replace("\x00", "\\0"), ["a path holds no NUL byte"])
    folder = Path(config_dir)
    if not folder.is_dir():
        raise ConfigError(folder, ["not a config folder (it does not exist)"])
    orchestrator = load_orchestrator_json(folder / ORCHESTRATOR_JSON)
    keys_file = folder / API_KEYS_JSON
    credentials = load_api_keys_json(keys_file) if keys_file.exists() else ()
    config = RunConfig(
        config_dir=folder.resolve(), orchestrator=orchestrator, credentials=credentials
    )
    if reason := workspace_problem(config.workspace, config.config_dir):
        raise ConfigError(folder / ORCHESTRATOR_JSON, [f"workspaceDir: {reason}"])
    return config


def describe(config: RunConfig) -> Mapping[str, Any]:
    """The config as the report shows it: ``orchestrator.json`` (a user or token in the
    repository URL blanked out) and the credentials' names."""
    dumped = dump_orchestrator_json(config.orchestrator)
    dumped["repositoryUrl"] = config.printable_repository
    dumped["notify"] = config.orchestrator.notify.described()
    return {**dumped, "credentials": [c.name for c in config.credentials]}
