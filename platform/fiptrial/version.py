"""The platform's version, from its installed distribution (``setup.cfg`` is the one place).

A module of its own so that a service can record the version (a data freeze does) without
importing the package root, whose app factory wires the web pages, the API and the CLI.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fiptrial")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
