"""The credential broker: a streaming proxy that holds the run's real credentials.

Every instance uses the broker as its ``ANTHROPIC_BASE_URL`` and authenticates with an
opaque token of its launch (:mod:`~claude_orchestra.broker.tokens`); the broker forwards
each request, passing the answer on as it arrives, with the credential the
:class:`~claude_orchestra.auth.rotator.AuthRotator` holds for that instance
(:mod:`~claude_orchestra.broker.upstream`). A rate limit or an authentication failure that
arrives before anything was streamed is reported to the rotator and the same request is
sent again on the next credential (:mod:`~claude_orchestra.broker.rules` decides,
:mod:`~claude_orchestra.broker.pool` talks to the rotator); the usage of every response is
read off its stream (:mod:`~claude_orchestra.broker.sse`) and kept per instance and
credential (:mod:`~claude_orchestra.broker.meter`).

One job per module: the decisions (``rules``, ``sse``, ``reading``, ``upstream``,
``tokens``) are pure and hold no I/O; ``proxy`` decides each request's path and does its
HTTP, with ``asgi`` (the request read from the ASGI scope, the answer streamed in batches
through a ``pipe``), ``client`` (each request upstream in one send) and ``wire`` (the
server's writes of one loop turn in one send); ``login`` reads a Claude login for each
request and refreshes it before it expires or when it is refused; ``service`` binds,
serves and issues launch credentials. It imports from the rest of the package only values
(credentials, the rotator, usage, reset times), never the loop.

``service`` (and aiohttp with it) is imported when ``Broker`` is first asked for, so a run
without a broker never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claude_orchestra.broker.access import BrokerAccess

if TYPE_CHECKING:
    from claude_orchestra.broker.service import Broker

__all__ = ["Broker", "BrokerAccess"]


def __getattr__(name: str) -> Any:
    if name == "Broker":
        from claude_orchestra.broker.service import Broker  # noqa: PLC0415 (when asked)

        return Broker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
