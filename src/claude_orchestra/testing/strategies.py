"""Hypothesis strategies for configuration documents (valid ones, and ways to break them)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from claude_orchestra.auth.rotator import AuthMode

_names = st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True)
_branch = st.from_regex(r"[a-z][a-z0-9]{0,8}(/[a-z0-9]{1,8})?", fullmatch=True)
_urls = st.one_of(
    st.builds(lambda n: f"https://example.com/{n}.git", _names),
    st.builds(lambda n: f"git@example.com:team/{n}.git", _names),
    st.builds(lambda n: f"file:///srv/git/{n}.git", _names),
    st.builds(lambda n: f"../repos/{n}", _names),
)
_optional_ms = st.none() | st.integers(1000, 10**7)

#: Every optional key of ``orchestrator.json`` with a strategy for a valid value.
OPTIONAL_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "branch": _branch,
    "workerCount": st.integers(1, 20),
    "claudeConfigs": st.none() | st.just("~/.claude-configs/*.json"),
    "hookServerPort": st.integers(0, 65535),
    "maxRunDurationMinutes": st.integers(1, 600) | st.floats(0.5, 600),
    "cloneDepth": st.none() | st.integers(1, 100),
    "healthCheckIntervalMs": _optional_ms,
    "rateLimitCheckIntervalMs": _optional_ms,
    "stuckThresholdMs": _optional_ms,
    "maxToolUsesPerInstance": st.none() | st.integers(1, 10**5),
    "maxTotalToolUses": st.none() | st.integers(1, 10**6),
    "workspaceDir": st.none() | st.builds(lambda n: f"runs/{n}", _names),
    "authMode": st.sampled_from([m.value for m in AuthMode]),
    "model": st.none() | st.sampled_from(["claude-opus-5-5", "claude-sonnet-5-5"]),
    "claudeCommand": st.none() | st.just("claude"),
    "scheduler": st.just("manager"),
    "merger": st.just("manager"),
    "apiTimeoutMs": _optional_ms,
    "maxRetries": st.integers(0, 15),
    "instanceNice": st.integers(0, 19),
    "rateLimitCooldownSeconds": st.integers(1, 3600) | st.floats(0.5, 3600),
    "broker": st.booleans(),
    "brokerNearLimit": st.none() | st.floats(0.01, 1.0),
}


@st.composite
def orchestrator_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid ``orchestrator.json`` document: the required key and any optional ones."""
    chosen = draw(st.lists(st.sampled_from(sorted(OPTIONAL_KEYS)), unique=True))
    document: dict[str, Any] = {"repositoryUrl": draw(_urls)}
    for key in sorted(chosen):
        document[key] = draw(OPTIONAL_KEYS[key])
    return document


#: Ways to make a valid document invalid: (key, bad value, words the reason must hold).
BREAKAGES: tuple[tuple[str, Any, str], ...] = (
    ("workerCount", 0, "between 1 and 20"),
    ("workerCount", 21, "between 1 and 20"),
    ("workerCount", "two", "must be an integer"),
    ("workerCount", True, "must be an integer"),
    ("workerCount", 2.5, "must be an integer"),
    ("hookServerPort", 70000, "between 0 and 65535"),
    ("maxRunDurationMinutes", 0, "greater than 0"),
    ("maxRunDurationMinutes", "1h", "must be a number"),
    ("authMode", "sometimes", "must be one of"),
    ("branch", "has space", "not a valid branch name"),
    ("branch", "../up", "not a valid branch name"),
    ("repositoryUrl", "", "must not be empty"),
    ("repositoryUrl", 7, "must be a string"),
    ("maxRetries", 16, "between 0 and 15"),
    ("instanceNice", 20, "between 0 and 19"),
    ("cloneDepth", 0, "at least 1"),
    ("claudeConfigs", {"a": 1}, "string or a list of strings"),
    ("noSuchKey", 1, "unknown key"),
    ("broker", "yes", "must be true or false"),
    ("brokerNearLimit", 1.5, "between 0 and 1"),
)


def api_key_entries(marker: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Valid ``api-keys.json`` lists whose secret values all contain ``marker``."""
    secret = st.builds(lambda n: f"sk-ant-{marker}-{n}", _names)
    entry = st.one_of(
        st.fixed_dictionaries({"primaryApiKey": secret}),
        st.fixed_dictionaries({"apiKey": secret}),
        st.fixed_dictionaries(
            {
                "env": st.fixed_dictionaries(
                    {"ANTHROPIC_AUTH_TOKEN": secret},
                    optional={"ANTHROPIC_BASE_URL": st.just("https://gateway.example/v1")},
                )
            }
        ),
    )
    return st.lists(entry, min_size=1, max_size=4).map(
        lambda entries: [{"name": f"key-{i}", **e} for i, e in enumerate(entries)]
    )
