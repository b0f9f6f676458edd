"""Reading a config folder: ``orchestrator.json`` parsed strictly, ``api-keys.json``, and
the config written back (the camelCase document, the report's description).

Every key is checked on its own by one strict cattrs converter (unknown keys, wrong types)
and the fields' validators (ranges); each problem is one line ``<file>: <field>: <reason>``
with the field spelled as in the file, every problem is reported, and no message ever
quotes a value from ``api-keys.json``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import cattrs

from claude_orchestra.auth.api_keys import load_api_keys_json
from claude_orchestra.auth.rotator import AuthMode
from claude_orchestra.config import OrchestraConfig, RunConfig, workspace_problem
from claude_orchestra.config_files import read_config_json
from claude_orchestra.costs.budget import BudgetConfig
from claude_orchestra.costs.transcripts import Price
from claude_orchestra.errors import ConfigError
from claude_orchestra.notifications import NotifyConfig
from claude_orchestra.runtimes.remote.hosts import RemoteHost, hosts_problems

ORCHESTRATOR_JSON = "orchestrator.json"
API_KEYS_JSON = "api-keys.json"

_T = TypeVar("_T")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


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
