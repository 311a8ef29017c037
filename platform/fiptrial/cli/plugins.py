"""``fiptrial plugins``: the commands live with the plugin host (``fiptrial.plugins.commands``)
so that they run without Flask (``python -m fiptrial.plugins``); the ``fiptrial`` group adds
them from here."""

from fiptrial.plugins.commands import PluginCliConfig, plugins_cli

__all__ = ["PluginCliConfig", "plugins_cli"]
