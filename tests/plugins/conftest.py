"""Fixtures for the plugin host's tests: fixture plugins loaded from tests/plugins/fixtures.

The fixture plugins are loaded by file path rather than installed, so the tests never depend
on (or disturb) what is installed in the environment.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from fiptrial.plugins.manager import PluginHost, build_plugin_manager

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture_plugin(name: str) -> ModuleType:
    """A fresh module object for tests/plugins/fixtures/<name>.py."""
    spec = importlib.util.spec_from_file_location(
        f"fiptrial_fixture_{name}", FIXTURES / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fixture_plugin() -> Callable[[str], ModuleType]:
    return load_fixture_plugin


@pytest.fixture
def host_with() -> Callable[..., PluginHost]:
    """``host_with("fixture_site", ...)``: a strict host with only these fixture plugins."""

    def build(*names: str, strict: bool = True) -> PluginHost:
        plugins = {name: load_fixture_plugin(name) for name in names}
        return PluginHost(build_plugin_manager(entry_points=False, plugins=plugins), strict)

    return build


@pytest.fixture
def fixture_site(host_with: Callable[..., PluginHost]):
    """The well-behaved fixture site plugin, checked."""
    return host_with("fixture_site")["fixture_site"]
