"""Development key files (instance/secret.key, pseudonym.key, audit.key): processes that start
at the same moment all end up with the same full key, and short keys are refused."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fiptrial.config import MIN_KEY_BYTES, KeyFileError, settings_from_environment

KEYS = ("SECRET_KEY", "PSEUDONYM_KEY", "AUDIT_KEY")
FILES = ("secret.key", "pseudonym.key", "audit.key")
PROCESSES = 6
ROUNDS = 2

# Each process imports the platform, waits for the same wall-clock moment, then reads (and
# maybe creates) the keys: the window of main's check-then-create race is microseconds wide.
CHILD = """
import json, sys, time
from pathlib import Path
from fiptrial.config import settings_from_environment
start = float(sys.argv[1])
while time.time() < start:
    pass
settings = settings_from_environment(Path(sys.argv[2]))
print(json.dumps({k: settings[k] for k in ("SECRET_KEY", "PSEUDONYM_KEY", "AUDIT_KEY")}))
"""


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIPTRIAL_")}
    return env


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_processes_starting_together_share_one_complete_key(tmp_path: Path, round_: int) -> None:
    folder = tmp_path / f"instance-{round_}"
    start = time.time() + 4
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(start), str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_clean_env(),
        )
        for _ in range(PROCESSES)
    ]
    results = [child.communicate(timeout=120) for child in children]
    errors = [err for child, (_out, err) in zip(children, results, strict=True) if child.returncode]
    assert errors == []
    keys = [json.loads(out) for out, _err in results]
    assert all(k == keys[0] for k in keys), keys
    for name, file in zip(KEYS, FILES, strict=True):
        assert len(keys[0][name]) == 64
        assert (folder / file).read_text().strip() == keys[0][name]
        assert stat.S_IMODE((folder / file).stat().st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)  # no temporary left


def test_another_process_creating_the_key_in_between_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race made deterministic: another process creates the key file just after this one
    saw that it did not exist. Both must end up with that other process's key."""
    from fiptrial import config

    for variable in ("FIPTRIAL_SECRET_KEY", "FIPTRIAL_PSEUDONYM_KEY", "FIPTRIAL_AUDIT_KEY"):
        monkeypatch.delenv(variable, raising=False)
    theirs = "f" * 64
    real_open = os.open

    def open_after_the_other_process(path: object, flags: int, mode: int = 0o777) -> int:
        target = tmp_path / "secret.key"
        if not target.exists():
            target.write_text(theirs)
        return real_open(path, flags, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(config.os, "open", open_after_the_other_process)
    settings = settings_from_environment(tmp_path)
    assert settings["SECRET_KEY"] == theirs


def test_a_short_key_in_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIPTRIAL_SECRET_KEY", "short-secret")
    with pytest.raises(KeyFileError) as error:
        settings_from_environment(tmp_path)
    assert "FIPTRIAL_SECRET_KEY" in str(error.value) and str(MIN_KEY_BYTES) in str(error.value)
    assert "short-secret" not in str(error.value)


@pytest.mark.parametrize("content", ["", "abc", "x" * (MIN_KEY_BYTES - 1)])
def test_an_empty_or_short_key_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    for variable in ("FIPTRIAL_SECRET_KEY", "FIPTRIAL_PSEUDONYM_KEY", "FIPTRIAL_AUDIT_KEY"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "pseudonym.key").write_text(content)
    with pytest.raises(KeyFileError, match=r"pseudonym\.key holds a key of fewer than 32 bytes"):
        settings_from_environment(tmp_path)


def test_a_key_of_32_bytes_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in (
        ("FIPTRIAL_SECRET_KEY", "s" * 32),
        ("FIPTRIAL_PSEUDONYM_KEY", "p" * 32),
        ("FIPTRIAL_AUDIT_KEY", "a" * 32),
    ):
        monkeypatch.setenv(variable, value)
    settings = settings_from_environment(tmp_path)
    assert settings["AUDIT_KEY"] == "a" * 32
    assert list(tmp_path.iterdir()) == []  # no key file made when the environment has them
