"""``fiptrial.plugins`` runs without Flask and the platform (issue 12): a plugin's own tests and
``fiptrial plugins check`` work in a small environment. Checked in a fresh interpreter, where
nothing has been imported yet, with Flask, SQLAlchemy and Werkzeug made unimportable."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import importlib.abc, json, sys

    class Forbid(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("flask", "flask_sqlalchemy", "sqlalchemy", "werkzeug"):
                raise ImportError(f"{name} must not be imported by the plugin host")
            return None

    sys.meta_path.insert(0, Forbid())
    import fiptrial.plugins
    import fiptrial.plugins.commands, fiptrial.plugins.conformance, fiptrial.plugins.manager
    from fiptrial.plugins.conformance import check_plugin
    results = check_plugin("brabantse_wal")
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("flask", "sqlalchemy"))
    print(json.dumps({
        "passed": all(r.passed for r in results),
        "loaded": loaded,
    }))
    """
)


def test_the_plugin_host_and_its_checks_run_without_flask() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert report["passed"], "the Brabantse Wal site must pass its checks without Flask"


def test_python_m_fiptrial_plugins_lists_without_flask() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['flask'] = None\n"
         "from fiptrial.plugins.commands import plugins_cli\n"
         "plugins_cli(['list', '--json'], standalone_mode=False)"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = {entry["name"] for entry in json.loads(done.stdout)}
    assert {"brabantse_wal", "template"} <= names
