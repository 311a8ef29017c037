"""The ``fiptrial`` console script: Flask's CLI group around :func:`fiptrial.create_app`.

The commands themselves are registered by the app factory (see ``cli.commands``), so they are
the same under ``fiptrial``, ``flask --app wsgi`` and the tests' CLI runner.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from fiptrial import create_app
from fiptrial.cli.plugins import plugins_cli


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False)
def main() -> None:
    """Operate the FIP trial platform: database, demo, tokens, audit, randomisation."""


# On the top-level group, not the app's: a broken plugin stops create_app, and the command
# that diagnoses it must still run.
main.add_command(plugins_cli)
