"""What the broker served: one record per request, totals per instance and credential.

A :class:`Served` record is made when a request ends (its stream complete, cut, or
refused) and kept at once under its instance and the credential that served it: the usage
read off the stream (:mod:`~claude_orchestra.broker.sse`), the status, the time to the
first byte and the output rate. :class:`BrokerMeter` sums them for ``status.json`` and the
report. Each record is also told to ``on_served``: the run hands it to its loop as a
:class:`Metered` event, and the cost ledger charges the response the moment it ends (the
transcripts stay the cross-check, and a response is counted once, by its id).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from typing import Any, Literal, final

import attrs

from claude_orchestra.costs.transcripts import Usage
from claude_orchestra.events import Event

Dimension = Literal["instance", "credential"]


@final
@attrs.frozen(kw_only=True)
class Served:
    """One request the broker answered."""

    instance: str
    credential: str | None
    """The credential whose answer went to the instance (``None``: none was usable)."""
    status: int
    usage: Usage | None = None
    """Read off a complete stream (or a whole JSON message)."""
    message_id: str | None = None
    """The response's id (``message_start``): the key the cost ledger counts it once by,
    whether the broker or a transcript tells it first."""
    model: str | None = None
    """The model that answered (what the response is priced by)."""
    error: str | None = None
    """The error's ``type`` (``overloaded_error``...), ``stream:<type>`` for an error event
    mid-stream, ``cut`` for a stream that ended early, ``exhausted`` when no credential was
    left to try, ``budget`` for a request refused past a budget, ``unreachable``; ``None``
    when all went well."""
    rotations: int = 0
    """Credentials this request failed on before the one that answered."""
    first_byte: float | None = None
    """Seconds from the request's arrival to the first byte of the answer."""
    seconds: float = 0.0
    """Seconds from arrival to the last byte."""
    size: int = 0
    """Bytes of the answer's body."""

    @property
    def output_rate(self) -> float | None:
        """Output tokens per second after the first byte (``None``: not measurable)."""
        if self.usage is None or self.first_byte is None:
            return None
        streaming = self.seconds - self.first_byte
        return self.usage.output_tokens / streaming if streaming > 0 else None


@final
@attrs.frozen(kw_only=True)
class Metered(Event):
    """A response the broker served in full (or cut), as an event for the loop: the cost
    ledger charges it to its instance now, not when a transcript is next read."""

    served: Served


@final
@attrs.frozen(kw_only=True)
class Tally:
    """The sum of the requests of one instance or credential."""

    requests: int = 0
    usage: Usage = attrs.field(factory=Usage)
    errors: tuple[tuple[str, int], ...] = ()
    """Errors by kind, sorted."""
    rotations: int = 0
    first_byte_p50: float | None = None
    output_rate_p50: float | None = None

    def as_json(self) -> dict[str, Any]:
        """For ``status.json`` and the report."""
        return {
            "requests": self.requests,
            "tokens": attrs.asdict(self.usage),
            "errors": dict(self.errors),
            "rotations": self.rotations,
            "firstByteP50": self.first_byte_p50,
            "outputTokensPerSecondP50": self.output_rate_p50,
        }


def _median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 4) if known else None


def tally(records: Iterable[Served]) -> Tally:
    """Sum ``records``."""
    served = list(records)
    errors: dict[str, int] = {}
    for record in served:
        if record.error is not None:
            errors[record.error] = errors.get(record.error, 0) + 1
    return Tally(
        requests=len(served),
        usage=sum((r.usage for r in served if r.usage is not None), Usage()),
        errors=tuple(sorted(errors.items())),
        rotations=sum(r.rotations for r in served),
        first_byte_p50=_median(r.first_byte for r in served),
        output_rate_p50=_median(r.output_rate for r in served),
    )


@final
@attrs.define(eq=False)
class BrokerMeter:
    """Every request the broker answered, as it ends."""

    on_served: Callable[[Served], None] = lambda _: None
    """Told of each record the moment it is kept."""
    _served: list[Served] = attrs.field(init=False, factory=list)
    _failures: dict[str, dict[str, int]] = attrs.field(init=False, factory=dict)

    def keep(self, record: Served) -> None:
        """Keep ``record`` (the request ended)."""
        self._served.append(record)
        self.on_served(record)

    def refused(self, credential: str, kind: str) -> None:
        """``credential`` refused a request with ``kind`` and it went on to another."""
        counts = self._failures.setdefault(credential, {})
        counts[kind] = counts.get(kind, 0) + 1

    @property
    def served(self) -> tuple[Served, ...]:
        """Every record so far, in the order the requests ended."""
        return tuple(self._served)

    def usage(self) -> Usage:
        """All tokens served through the broker."""
        return tally(self._served).usage

    def by(self, dimension: Dimension) -> dict[str, Tally]:
        """Tallies per instance or per credential (a credential's include the refusals it
        made, as errors)."""
        groups: dict[str, list[Served]] = {}
        for record in self._served:
            key = record.instance if dimension == "instance" else record.credential or "-"
            groups.setdefault(key, []).append(record)
        tallies = {k: tally(v) for k, v in sorted(groups.items())}
        if dimension == "credential":
            for name, counts in self._failures.items():
                base = tallies.get(name, Tally())
                errors = dict(base.errors)
                for kind, count in counts.items():
                    errors[kind] = errors.get(kind, 0) + count
                tallies[name] = attrs.evolve(base, errors=tuple(sorted(errors.items())))
        return dict(sorted(tallies.items()))

    def as_json(self) -> dict[str, Any]:
        """The broker's section of ``status.json`` and the report."""
        return {
            "total": tally(self._served).as_json(),
            "byInstance": {k: t.as_json() for k, t in self.by("instance").items()},
            "byCredential": {k: t.as_json() for k, t in self.by("credential").items()},
        }
