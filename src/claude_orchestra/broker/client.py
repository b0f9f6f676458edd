"""The broker's HTTP client upstream: one aiohttp session, set up to pass answers through.

Profiled at the broker's p50, httpx's client cost 0.8 ms of CPU per small streamed request
and aiohttp's 0.2 ms (C parsers for the answer's head and chunks, no per-request task
machinery), so the broker sends with aiohttp (``bench/broker.py`` has the figures). The
session:

- keeps connections alive, as many as the instances need, with ``TCP_NODELAY`` (aiohttp's
  default) and a request's head and body written together (aiohttp holds the head for the
  body), so a request is one packet and nothing waits on a delayed ACK;
- adds no header of its own beyond ``Host`` and ``Content-Length``: the instance's
  ``User-Agent``, ``Accept`` and ``Content-Type`` pass as they came (as
  :func:`~claude_orchestra.broker.upstream.upstream_headers` chose them);
- does not decompress: the bytes an instance gets are the bytes the API sent;
- follows no redirect, and trusts the same certificate authorities as before (certifi's).
"""

from __future__ import annotations

import ssl
from typing import Final

import aiohttp
import certifi

CONNECT_SECONDS: Final = 15.0
"""How long opening a connection upstream may take."""
READ_SECONDS: Final = 600.0
"""Claude Code gives a request 600 s (``X-Stainless-Timeout``); the broker waits as long
for the next byte, and cuts none sooner."""

UPSTREAM_ERRORS: Final = (aiohttp.ClientError, TimeoutError)
"""What a failed exchange upstream raises (a timeout is a ``TimeoutError``)."""


def upstream_session() -> aiohttp.ClientSession:
    """A new session for the broker's requests upstream (open it in the running loop)."""
    connector = aiohttp.TCPConnector(
        limit=0,  # one connection per request in flight, however many instances stream
        ssl=ssl.create_default_context(cafile=certifi.where()),
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_SECONDS, sock_read=READ_SECONDS),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        cookie_jar=aiohttp.DummyCookieJar(),  # an answer's cookies reach no other request
    )
