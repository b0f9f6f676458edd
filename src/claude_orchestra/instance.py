"""One Claude Code process: its role, pane, private home, credential and state.

An :class:`Instance` starts the real interactive ``claude`` in a tmux window, types
prompts into it, and stops or restarts it. Its state moves only through :meth:`observe`,
which the orchestrator's loop calls with each event for this instance (the loop is the
only writer), and through the actions it performs itself (launch, prompt, stop). Every
change is kept with its evidence; :meth:`snapshot` gives plugins a frozen view.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import final

import anyio
import attrs

from claude_orchestra._clock import Clock
from claude_orchestra.auth.credentials import Credential
from claude_orchestra.broker.access import BrokerAccess
from claude_orchestra.costs.transcripts import has_conversation
from claude_orchestra.errors import InvalidTransition
from claude_orchestra.events import HookEvent, PaneDied, is_session_id
from claude_orchestra.intake.keys import HookKeys
from claude_orchestra.lifecycle import (
    InstanceState,
    Launched,
    PromptSent,
    Signal,
    Step,
    StopRequested,
    advance,
)
from claude_orchestra.runtimes.base import Runtime
from claude_orchestra.runtimes.claude_home import ClaudeHome, HookEndpoint, LaunchSpec
from claude_orchestra.runtimes.typed_text import plain_text

logger = logging.getLogger(__name__)

_MAX_TRANSCRIPTS = 1000
"""Transcript paths kept per instance (each session has one; sub-agents are not named)."""


class Role(enum.Enum):
    """What an instance is for."""

    MANAGER = "manager"
    WORKER = "worker"


@final
@attrs.frozen(kw_only=True)
class StateChange:
    """One recorded change of state and the evidence for it."""

    at: float
    """Wall-clock seconds."""
    before: InstanceState
    after: InstanceState
    evidence: str
    instance: str = ""
    """Whose state changed (so a journal line stands on its own)."""


@final
@attrs.frozen(kw_only=True)
class InstanceView:
    """A frozen picture of an instance, for plugins and reports."""

    name: str
    role: Role
    worker: int | None
    state: InstanceState
    credential: str
    session_id: str | None
    cwd: Path
    last_event_at: float | None
    prompts_sent: int
    launch: int = 0
    """Which launch the current process is (1 for the first; 0 before the first)."""


@final
@attrs.frozen(kw_only=True)
class LaunchSettings:
    """How every instance of a run is started (shared by all of them)."""

    claude: tuple[str, ...]
    endpoint: HookEndpoint
    keys: HookKeys
    """Issues each launch's hook token."""
    model: str | None = None
    knobs: Mapping[str, str] = attrs.field(factory=dict)
    """Claude Code environment knobs (``CLAUDE_CODE_MAX_RETRIES``, ``API_TIMEOUT_MS``...)."""
    nice: int = 0
    """The CPU priority every process starts at (``instanceNice``; 0: the orchestrator's)."""
    broker: BrokerAccess | None = None
    """The run's credential broker: each launch then gets the broker's URL and a token of
    its own instead of a credential, and the broker's rotator names the credential."""


@final
@attrs.define(eq=False, repr=False)
class Instance:
    """One interactive Claude Code process in a tmux window."""

    name: str
    role: Role
    cwd: Path
    home: ClaudeHome
    worker: int | None = None
    _backend: Runtime = attrs.field(kw_only=True, alias="backend")
    _credential: Credential = attrs.field(kw_only=True, alias="credential")
    _settings: LaunchSettings = attrs.field(kw_only=True, alias="settings")
    _clock: Clock = attrs.field(kw_only=True, alias="clock")
    _state: InstanceState = attrs.field(init=False, default=InstanceState.CREATED)
    _history: list[StateChange] = attrs.field(init=False, factory=list)
    _session_id: str | None = attrs.field(init=False, default=None)
    _found_session: str | None = attrs.field(init=False, default=None)
    """An adopted session whose transcript the runtime has put where the instance runs
    (another host): resumed without looking for it here."""
    _transcripts: set[str] = attrs.field(init=False, factory=set)
    _last_event_at: float | None = attrs.field(init=False, default=None)
    _prompts_sent: int = attrs.field(init=False, default=0)
    _pid: int | None = attrs.field(init=False, default=None)
    _launch: int = attrs.field(init=False, default=0)

    def __repr__(self) -> str:
        return f"<Instance {self.name} {self._state.value}>"

    @property
    def state(self) -> InstanceState:
        """The current state."""
        return self._state

    @property
    def pid(self) -> int | None:
        """The process id tmux reported for the current process."""
        return self._pid

    @property
    def launch(self) -> int:
        """Which launch the current process is (1 for the first): only events that name it
        change the instance."""
        return self._launch

    @property
    def credential(self) -> Credential:
        """The credential the process runs on now (behind a broker: the one the broker
        sends its requests with, which may change between two requests)."""
        broker = self._settings.broker
        return self._credential if broker is None else broker.credential_of(self.name)

    @property
    def session_id(self) -> str | None:
        """The Claude Code session the process holds (from its hooks)."""
        return self._session_id

    @property
    def history(self) -> Sequence[StateChange]:
        """Every state change so far, with its evidence."""
        return tuple(self._history)

    @property
    def transcripts(self) -> frozenset[str]:
        """Transcript files its hooks named."""
        return frozenset(self._transcripts)

    def snapshot(self) -> InstanceView:
        """A frozen view for plugins and the report."""
        return InstanceView(
            name=self.name,
            role=self.role,
            worker=self.worker,
            state=self._state,
            credential=self.credential.name,
            session_id=self._session_id,
            cwd=self.cwd,
            last_event_at=self._last_event_at,
            prompts_sent=self._prompts_sent,
            launch=self._launch,
        )

    def is_stale(self, signal: Signal) -> bool:
        """The signal comes from a process this instance has since replaced (or from none
        of its launches): hook events must name the current launch, a pane's death the
        current launch and process."""
        if isinstance(signal, HookEvent):
            return signal.launch != self._launch
        if isinstance(signal, PaneDied):
            return signal.launch != self._launch or signal.pid != self._pid
        return False

    def observe(self, signal: Signal) -> Step:
        """Apply one signal (called by the orchestrator's loop only) and record it.

        Late events of a replaced process change nothing.
        """
        if self.is_stale(signal):
            return Step(state=self._state, changed=False, reason="from a replaced process")
        if isinstance(signal, HookEvent):
            self._last_event_at = signal.at
            if is_session_id(signal.session_id):
                self._session_id = signal.session_id
            if signal.transcript_path and self._own_transcript(signal.transcript_path):
                self._transcripts.add(signal.transcript_path)
        step = advance(self._state, signal)
        if step.changed:
            self._history.append(
                StateChange(
                    at=self._clock.wall(),
                    before=self._state,
                    after=step.state,
                    evidence=step.reason,
                    instance=self.name,
                )
            )
            logger.info(
                "%s: %s -> %s (%s)",
                self.name,
                self._state.value,
                step.state.value,
                step.reason,
                extra={"instance": self.name, "state": step.state.value},
            )
            self._state = step.state
        return step

    def _own_transcript(self, path: str) -> bool:
        """Whether a hook's ``transcript_path`` names a file in this instance's own
        ``projects/`` (checked on the path alone), and there is room to keep one more."""
        if len(self._transcripts) >= _MAX_TRANSCRIPTS or "\x00" in path:
            return False
        normal = Path(os.path.normpath(path))
        return normal.is_absolute() and normal.is_relative_to(self.home.projects_dir)

    def adopt(self, session_id: str, transcript_path: str | None, *, found: bool = False) -> None:
        """Take up a session an earlier process of this instance held (``run --resume``);
        an id that is not a UUID is not taken up. ``found``: the runtime carried its
        conversation to where the instance runs (another host), so it is resumed without
        looking for its transcript here."""
        if not is_session_id(session_id):
            logger.warning("%s: not resuming %r: not a session id", self.name, session_id[:40])
            return
        self._session_id = session_id
        self._found_session = session_id if found else None
        if transcript_path and self._own_transcript(transcript_path):
            self._transcripts.add(transcript_path)

    async def start(self, *, trusted: Sequence[Path] = (), resume: bool = False) -> None:
        """Seed the private home and launch the process; ``SessionStart`` makes it ready
        (:meth:`launching`, then :meth:`launch_process`).

        Raises:
            InvalidTransition: a process runs already.
        """
        self.launching()
        await self.launch_process(trusted=trusted, resume=resume)

    def launching(self) -> None:
        """Mark the first process started from now on (the loop's part of :meth:`start`:
        the state changes at once, and :meth:`launch_process` starts it beside the loop).

        Raises:
            InvalidTransition: a process runs already.
        """
        if self._state.alive:
            raise InvalidTransition(self._state.value, "start")
        self._launch += 1
        self.observe(Launched())

    async def launch_process(self, *, trusted: Sequence[Path] = (), resume: bool = False) -> None:
        """Seed the private home and start the process :meth:`launching` marked.

        With ``resume``, an adopted session is resumed when its transcript holds a
        conversation (else a new session starts).
        """
        spec = await self._prepare(trusted=trusted, resume=resume)
        self._pid = await self._backend.launch(self.name, spec)

    async def restart(self, credential: Credential | None = None, *, resume: bool = True) -> None:
        """Replace the process, optionally on another credential, resuming its conversation."""
        if credential is not None:
            self._credential = credential
        self._launch += 1
        spec = await self._prepare(trusted=(), resume=resume)
        self._pid = await self._backend.respawn(self.name, spec)
        self.observe(Launched())

    async def _prepare(self, *, trusted: Sequence[Path], resume: bool) -> LaunchSpec:
        """The current launch: its own hook token, the home seeded and the command line
        (the files are written and read in a thread: the home is the instance's to tamper
        with)."""
        settings = self._settings
        launch = self._launch
        token = settings.keys.issue(self.name, launch)
        credential = (
            self._credential
            if settings.broker is None
            else settings.broker.launch_credential(self.name, launch)
        )
        session = self._session_id if resume else None
        found = session is not None and session == self._found_session
        transcripts = tuple(self._transcripts)

        def prepare() -> LaunchSpec:
            self.home.seed(
                instance=self.name,
                launch=launch,
                trusted=[self.cwd, *trusted],
                credential=credential,
                endpoint=settings.endpoint,
            )
            resumable = session is not None and (
                found or has_conversation(session, transcripts, self.home.projects_dir)
            )
            return self.home.launch_spec(
                instance=self.name,
                launch=launch,
                endpoint=settings.endpoint,
                claude=settings.claude,
                cwd=self.cwd,
                credential=credential,
                hook_token=token.reveal(),
                identity=self.name,
                model=settings.model,
                resume_session=session if resumable else None,
                knobs=settings.knobs,
                nice=settings.nice,
            )

        return await anyio.to_thread.run_sync(prepare)

    async def send(self, prompt: str) -> None:
        """Type ``prompt`` (control characters but newline and tab replaced) and press
        Enter; ``UserPromptSubmit`` confirms delivery (:meth:`prompt`, then :meth:`type`).

        Raises:
            InvalidTransition: the instance is not in a state that takes a prompt.
        """
        await self.type(self.prompt(prompt))

    def prompt(self, prompt: str) -> str:
        """Mark ``prompt`` sent (the instance is prompted from now on) and return the text
        to :meth:`type`: control characters but newline and tab replaced, so no escape can
        end the paste and type keys.

        Raises:
            InvalidTransition: the instance is not in a state that takes a prompt.
        """
        if not self._state.accepts_prompt:
            raise InvalidTransition(self._state.value, "send a prompt to")
        text = plain_text(prompt)
        self._prompts_sent += 1
        self.observe(PromptSent(prompt=text))
        return text

    async def type(self, text: str) -> None:
        """Type ``text`` into the pane and press Enter (``paste-buffer``, exact)."""
        await self._backend.type_text(self.name, text)

    async def stop(self) -> None:
        """Ask the process to exit; ``SessionEnd`` or the pane's death confirm it.

        An idle instance gets ``/exit``. A busy one gets SIGTERM instead: typing would
        mix ``/exit`` into the interrupted prompt Claude Code puts back in the input box.
        Either way Claude Code ends its session (``SessionEnd``) and writes its transcript.
        """
        if not self._state.alive:
            return
        idle = self._state is InstanceState.IDLE
        self.observe(StopRequested())
        if idle:
            await self._backend.type_text(self.name, "/exit")
        else:
            await self._backend.terminate(self.name)

    async def terminate(self) -> None:
        """Ask the process to exit now (SIGTERM), e.g. before replacing it."""
        if self._state.alive:
            self.observe(StopRequested())
            await self._backend.terminate(self.name)

    async def press(self, *keys: str) -> None:
        """Press keys in the pane (tmux key names: ``Enter``, ``Escape``...)."""
        await self._backend.send_keys(self.name, *keys)

    async def screen(self) -> str:
        """The pane's visible text: evidence for states no hook reports."""
        return await self._backend.capture(self.name)

    async def kill(self) -> None:
        """Close the window whatever the process is doing."""
        await self._backend.kill(self.name)
