"""PluginHost: one pluggy manager per run, and a typed facade over its hooks.

The built-in strategies are registered first (``trylast``) so installed plugins are asked
before them; entry points of the ``claude_orchestra`` group load unless a test or the user
says otherwise. Each decision hook's answer is checked here, and a plugin that raises or
answers nonsense becomes a :class:`~claude_orchestra.errors.PluginError` naming it.
Observers never stop the run: an observer's exception is logged with the plugin's name and
handed to ``on_observer_error``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, final

import pluggy

from claude_orchestra import hookspecs
from claude_orchestra.auth.rotator import CredentialFailure, PoolView
from claude_orchestra.costs.budget import BudgetCrossing
from claude_orchestra.defaults import manager, queue, rotation, runtimes
from claude_orchestra.errors import ConfigError, OrchestraError, PluginError
from claude_orchestra.events import Event
from claude_orchestra.instance import InstanceView, StateChange
from claude_orchestra.runtimes.base import Runtime, RuntimeContext
from claude_orchestra.summary import RunSummary
from claude_orchestra.values import (
    Assignment,
    Incident,
    MergePlan,
    MergeRecord,
    RunView,
    StrategyNeeds,
    WorkerFinished,
)

logger = logging.getLogger(__name__)

#: The built-in plugins, registered before any other, in this order.
DEFAULT_PLUGINS: tuple[tuple[str, object], ...] = (
    ("claude_orchestra.defaults.manager", manager),
    ("claude_orchestra.defaults.queue", queue),
    ("claude_orchestra.defaults.rotation", rotation),
    ("claude_orchestra.defaults.runtimes", runtimes),
)

ObserverErrorHandler = Callable[[str, str, BaseException], None]


@final
class PluginHost:
    """The plugins of one run and typed calls into them."""

    def __init__(
        self,
        plugins: Iterable[object] = (),
        *,
        load_entry_points: bool = True,
        blocked: Iterable[str] = (),
        on_observer_error: ObserverErrorHandler | None = None,
    ) -> None:
        """Register the built-ins, then entry points, then ``plugins``.

        Args:
            plugins: extra plugin objects or modules (a user's script, a test).
            load_entry_points: load the ``claude_orchestra`` entry-point group.
            blocked: plugin names not to register (``--disable-plugin``).
            on_observer_error: told (plugin, hook, exception) when an observer raises.
        """
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        for name in blocked:
            self._pm.set_blocked(name)
        for name, plugin in DEFAULT_PLUGINS:
            if not self._pm.is_blocked(name):
                self._pm.register(plugin, name=name)
        if load_entry_points:
            self._pm.load_setuptools_entrypoints(hookspecs.PROJECT)
        for plugin in plugins:
            self._pm.register(plugin)
        self._pm.check_pending()
        self._on_observer_error = on_observer_error

    @property
    def manager(self) -> pluggy.PluginManager:
        """The underlying pluggy manager (for listing and blocking)."""
        return self._pm

    def names(self) -> list[str]:
        """Names of the registered plugins."""
        return [name for name, plugin in self._pm.list_name_plugin() if plugin is not None]

    def _decide(self, hook: str, check: Callable[[Any], bool], **kwargs: Any) -> Any:
        caller = getattr(self._pm.hook, hook)
        try:
            answer = caller(**kwargs)
        except Exception as exc:
            raise PluginError(_culprit(caller), hook, f"{type(exc).__name__}: {exc}") from exc
        if answer is not None and not check(answer):
            raise PluginError(_culprit(caller), hook, f"unexpected answer {answer!r}")
        return answer

    def schedule(self, run: RunView) -> list[Assignment]:
        """``orchestra_schedule``; no answer means nothing to do."""
        idle = {view.name for view in run.idle}

        def valid(answer: Any) -> bool:
            return isinstance(answer, Sequence) and all(
                isinstance(a, Assignment) and a.instance in idle for a in answer
            )

        answer = self._decide("orchestra_schedule", valid, run=run)
        return list(answer or [])

    def merge_plan(self, run: RunView, finished: WorkerFinished) -> MergePlan | None:
        """``orchestra_merge``; ``None`` when no plugin answers."""
        plan: MergePlan | None = self._decide(
            "orchestra_merge", lambda a: isinstance(a, MergePlan), run=run, finished=finished
        )
        return plan

    def strategy_needs(self, kind: Literal["scheduler", "merger"], name: str) -> StrategyNeeds:
        """``orchestra_strategy_needs``: what the ``kind`` strategy ``name`` needs set up;
        nothing (``StrategyNeeds()``) when no plugin answers."""
        answer: StrategyNeeds | None = self._decide(
            "orchestra_strategy_needs",
            lambda a: isinstance(a, StrategyNeeds),
            kind=kind,
            name=name,
        )
        return answer or StrategyNeeds()

    def select_credential(
        self, instance: InstanceView, pool: PoolView, failure: CredentialFailure
    ) -> str | None:
        """``orchestra_select_credential``; the answer must name an available credential."""
        names = {c.name for c in pool.available}
        answer: str | None = self._decide(
            "orchestra_select_credential",
            lambda a: isinstance(a, str) and a in names,
            instance=instance,
            pool=pool,
            failure=failure,
        )
        return answer

    def runtime(self, name: str, context: RuntimeContext) -> Runtime:
        """``orchestra_runtime``: the runtime called ``name``.

        Raises:
            ConfigError: no plugin provides it.
        """
        caller = self._pm.hook.orchestra_runtime
        try:
            answer = caller(name=name, context=context)
        except OrchestraError:
            raise
        except Exception as exc:
            raise PluginError(_culprit(caller), "orchestra_runtime", str(exc)) from exc
        if answer is None:
            raise ConfigError(
                context.config_dir / "orchestrator.json",
                [f"runtime: no plugin provides {name!r} (built-in: local, sandbox, container)"],
            )
        runtime: Runtime = answer
        return runtime

    # -- the observer hooks, one typed method each ----------------------------------------

    def hook_event(self, event: Event) -> None:
        """``orchestra_hook_event``: an event was applied to its instance."""
        self._notify("orchestra_hook_event", event=event)

    def state_changed(self, instance: InstanceView, change: StateChange) -> None:
        """``orchestra_instance_state_changed``: an instance changed state."""
        self._notify("orchestra_instance_state_changed", instance=instance, change=change)

    def merged(self, merge: MergeRecord) -> None:
        """``orchestra_merged``: a worker branch reached the run branch."""
        self._notify("orchestra_merged", merge=merge)

    def incident(self, incident: Incident) -> None:
        """``orchestra_incident``: something went wrong, and what is done about it."""
        self._notify("orchestra_incident", incident=incident)

    def budget(self, crossing: BudgetCrossing) -> None:
        """``orchestra_budget``: a budget's warning fraction or its limit was crossed."""
        self._notify("orchestra_budget", crossing=crossing)

    def run_finished(self, summary: RunSummary) -> None:
        """``orchestra_run_finished``: the run is over."""
        self._notify("orchestra_run_finished", summary=summary)

    def _notify(self, hook: str, **kwargs: Any) -> None:
        """Call an observer hook on every plugin; exceptions are reported, not raised."""
        caller = getattr(self._pm.hook, hook)
        for impl in caller.get_hookimpls():
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                logger.exception("plugin %s failed in %s", impl.plugin_name, hook)
                if self._on_observer_error is not None:
                    self._on_observer_error(impl.plugin_name, hook, exc)


def _culprit(caller: pluggy.HookCaller) -> str:
    impls = caller.get_hookimpls()
    return impls[-1].plugin_name if len(impls) == 1 else "+".join(i.plugin_name for i in impls)
