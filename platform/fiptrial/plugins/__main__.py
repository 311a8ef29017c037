"""``python -m fiptrial.plugins``: the ``fiptrial plugins`` commands without Flask.

For a plugin's own environment (a municipality's laptop, a plugin's CI): ``new``, ``list``,
``check`` and ``docs`` need only the plugin host, which imports neither Flask nor the
platform's database.
"""

from fiptrial.plugins.commands import plugins_cli

if __name__ == "__main__":
    plugins_cli(prog_name="python -m fiptrial.plugins")
