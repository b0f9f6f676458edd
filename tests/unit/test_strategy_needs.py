"""``orchestra_strategy_needs``: the built-in strategies say what they need, a plugin's
strategy can too, and one nobody answers for needs nothing (#17: the core does not branch
on the built-in plugins' names)."""

from __future__ import annotations

import pytest

from claude_orchestra import StrategyNeeds, hookimpl
from claude_orchestra.errors import PluginError
from claude_orchestra.plugins import PluginHost


def host(*plugins: object) -> PluginHost:
    return PluginHost(plugins, load_entry_points=False)


@pytest.mark.parametrize(
    ("kind", "name", "needs"),
    [
        ("scheduler", "manager", StrategyNeeds()),
        ("merger", "manager", StrategyNeeds(manager=True)),
        ("scheduler", "queue", StrategyNeeds(task_file=True)),
        ("merger", "queue", StrategyNeeds(merge_queue=True)),
        ("scheduler", "mine", StrategyNeeds()),
        ("merger", "mine", StrategyNeeds()),
    ],
)
def test_the_built_ins_say_what_they_need(kind: str, name: str, needs: StrategyNeeds) -> None:
    assert host().strategy_needs(kind, name) == needs  # type: ignore[arg-type]


class ReadsTheTaskFile:
    @hookimpl
    def orchestra_strategy_needs(self, kind: str, name: str) -> StrategyNeeds | None:
        return StrategyNeeds(task_file=True) if name == "mine" else None


def test_a_plugins_strategy_says_what_it_needs() -> None:
    plugins = host(ReadsTheTaskFile())
    assert plugins.strategy_needs("scheduler", "mine") == StrategyNeeds(task_file=True)
    assert plugins.strategy_needs("merger", "queue") == StrategyNeeds(merge_queue=True)


class Nonsense:
    @hookimpl
    def orchestra_strategy_needs(self, kind: str, name: str) -> object:
        return "queue"


def test_an_answer_that_is_not_strategy_needs_is_a_plugin_error() -> None:
    with pytest.raises(PluginError, match="orchestra_strategy_needs"):
        host(Nonsense()).strategy_needs("merger", "queue")
