"""Where a request goes upstream and how it authenticates there: pure header work.

Claude Code 2.1.328 authenticates in one of two ways (measured against the fake; see
``docs/explanation/broker.md``): an API key as ``x-api-key``, or a bearer token as
``Authorization: Bearer``, which for a Claude login (OAuth) also adds ``oauth-2025-04-20`` to
``anthropic-beta``. Instances always speak API-key mode to the broker (their token is their
``ANTHROPIC_API_KEY``); :func:`upstream_headers` swaps their token for the credential's own
headers, adding or removing the OAuth beta, so a move between an API key and a login needs
no restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret

DEFAULT_BASE_URL = "https://api.anthropic.com"
"""Where a credential that sets no ``ANTHROPIC_BASE_URL`` is sent."""
OAUTH_BETA = "oauth-2025-04-20"
"""The ``anthropic-beta`` flag Claude Code sends with a Claude login's token."""

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_AUTH = frozenset({"x-api-key", "authorization"})
_SECRET_NAMES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
_UNBROKERABLE = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "ANTHROPIC_CUSTOM_HEADERS")


def unbrokerable(credential: Credential) -> str | None:
    """Why the broker cannot send requests with ``credential`` (``None``: it can)."""
    for name in _UNBROKERABLE:
        if credential.env.get(name):
            return f"it sets {name}; the broker speaks only the Anthropic Messages API"
    if credential.kind is CredentialKind.OAUTH:
        return None
    if not any(isinstance(credential.env.get(n), Secret) for n in _SECRET_NAMES):
        return "it holds no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN"
    return None


def upstream_url(credential: Credential, path: str, query: str) -> str:
    """The URL a request for ``path`` (and ``query``) goes to with ``credential``."""
    base = (credential.base_url or DEFAULT_BASE_URL).rstrip("/")
    return f"{base}{path}" + (f"?{query}" if query else "")


def _betas(value: str, *, oauth: bool) -> str:
    flags = [f.strip() for f in value.split(",") if f.strip() and f.strip() != OAUTH_BETA]
    if oauth:
        flags.insert(min(1, len(flags)), OAUTH_BETA)  # where Claude Code puts it
    return ",".join(flags)


def upstream_headers(
    incoming: Iterable[tuple[str, str]],
    credential: Credential,
    *,
    oauth_token: Secret | None = None,
) -> dict[str, str]:
    """The headers to send upstream: the instance's, without its token, hop-by-hop
    headers or compression, with ``credential``'s authentication.

    Args:
        incoming: the instance's request headers (any case).
        credential: what to authenticate with.
        oauth_token: a login's access token when ``credential`` is a login kept in a
            credentials file (read by the caller).

    Raises:
        ValueError: ``credential`` yields no secret to send.
    """
    headers: dict[str, str] = {}
    for name, value in incoming:
        lower = name.lower()
        if lower not in _HOP_BY_HOP and lower not in _AUTH and lower != "accept-encoding":
            headers[lower] = value
    headers["accept-encoding"] = "identity"  # the usage is read off the stream as it passes
    env: Mapping[str, Secret | str] = credential.env
    oauth = credential.kind is CredentialKind.OAUTH
    if oauth:
        token = env.get("CLAUDE_CODE_OAUTH_TOKEN") or oauth_token
        if not isinstance(token, Secret):
            raise ValueError(f"credential {credential.name}: no login token")
        headers["authorization"] = f"Bearer {token.reveal()}"
    else:
        key, bearer = env.get("ANTHROPIC_API_KEY"), env.get("ANTHROPIC_AUTH_TOKEN")
        if isinstance(key, Secret):
            headers["x-api-key"] = key.reveal()
        if isinstance(bearer, Secret):
            headers["authorization"] = f"Bearer {bearer.reveal()}"
        if "x-api-key" not in headers and "authorization" not in headers:
            raise ValueError(f"credential {credential.name}: no key or token")
    betas = _betas(headers.get("anthropic-beta", ""), oauth=oauth)
    if betas:
        headers["anthropic-beta"] = betas
    else:
        headers.pop("anthropic-beta", None)
    return headers


def downstream_headers(upstream: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The headers of an upstream answer to pass to the instance (hop-by-hop removed)."""
    return {k.lower(): v for k, v in upstream if k.lower() not in _HOP_BY_HOP}
