"""The ``fiptrial`` command in a child process, for tests that run the CLI as a separate
process (a worker, the scheduler, an import killed halfway) on the test app's database."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

FIPTRIAL = [sys.executable, "-c", "from fiptrial.cli import main; main()"]


def cli_environment(app: Any, instance: str | Path, **more: str) -> dict[str, str]:
    """The child's environment: the test app's database, keys and ``instance`` folder, and the
    ``more`` variables."""
    return {
        **os.environ,
        "FIPTRIAL_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "FIPTRIAL_SECRET_KEY": app.config["SECRET_KEY"],
        "FIPTRIAL_PSEUDONYM_KEY": app.config["PSEUDONYM_KEY"],
        "FIPTRIAL_AUDIT_KEY": app.config["AUDIT_KEY"],
        "FIPTRIAL_INSTANCE_PATH": str(instance),
        **more,
    }
