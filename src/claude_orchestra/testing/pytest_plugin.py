"""Pytest fixtures shipped with claude_orchestra (registered through the pytest11 entry point).

``fake_api`` is a running :class:`~claude_orchestra.testing.fake_api.FakeAnthropicAPI`
answering with :class:`~claude_orchestra.testing.scripted.OrchestraScript`. It serves the
key ``fake_api_key`` (registered as ``fake-api``) and any a test registers; other keys get
a 401, as from the real API. To answer with another script, override ``fake_api_script``
in a conftest or module, or parametrize it::

    @pytest.mark.parametrize("fake_api_script", [EchoScript()])
    def test_echo(fake_api: FakeAnthropicAPI) -> None: ...

The server runs on its own event loop in a thread, so sync tests, async tests and
subprocesses (``ANTHROPIC_BASE_URL=fake_api.base_url``) can all use it; it is stopped,
thread and sockets included, when the test ends. Imports are deferred so that loading
this plugin costs nothing to test runs that do not use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from claude_orchestra.testing.fake_api import FakeAnthropicAPI
    from claude_orchestra.testing.scripted import Script


@pytest.fixture
def fake_api_script() -> Script:
    """The script the ``fake_api`` fixture answers with: the orchestra protocol's."""
    from claude_orchestra.testing.scripted import OrchestraScript  # noqa: PLC0415 (deferred)

    return OrchestraScript()


FAKE_API_KEY = "sk-ant-fake-api-fixture-" + "0" * 24
"""The key the ``fake_api`` fixture serves, registered under the name ``fake-api``."""


@pytest.fixture
def fake_api_key() -> str:
    """The key the ``fake_api`` fixture serves (registered as ``fake-api``)."""
    return FAKE_API_KEY


@pytest.fixture
def fake_api(fake_api_script: Script, fake_api_key: str) -> Iterator[FakeAnthropicAPI]:
    """A running fake Messages API on 127.0.0.1 (see :class:`FakeAnthropicAPI`) serving
    ``fake_api_key``."""
    from claude_orchestra.testing.fake_api import FakeAnthropicAPI  # noqa: PLC0415 (deferred)

    with FakeAnthropicAPI(script=fake_api_script) as fake:
        fake.register("fake-api", fake_api_key)
        yield fake
