"""Fixtures for the Brabantse Wal plugin's tests."""

from __future__ import annotations

import pytest

from fiptrial.plugins.manager import SitePlugin, build_plugin_host


@pytest.fixture(scope="session")
def site() -> SitePlugin:
    """The installed plugin, loaded through its entry point as the platform loads it."""
    return build_plugin_host(entry_points="brabantse_wal")["brabantse_wal"]
