"""Password rules and the ``fiptrial user`` commands."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fiptrial.services.passwords import (
    hash_password,
    password_problems,
    verify_password,
)


@pytest.mark.parametrize(
    ("password", "username", "problem"),
    [
        ("kort-1", "", "at least 12"),
        ("welkom123456", "", "common"),
        ("Welkom123456", "", "common"),
        ("jansen-wachtwoord-77", "jansen", "user name"),
        ("aaaaaaaaaaaaaaa", "", "too few"),
    ],
)
def test_weak_passwords_are_refused(password: str, username: str, problem: str) -> None:
    assert any(problem in p for p in password_problems(password, username=username))


def test_a_long_unusual_password_passes() -> None:
    assert password_problems("paars-fietspad-onder-de-brug", username="jansen") == []


def test_hash_and_verify() -> None:
    hashed = hash_password("paars-fietspad-onder-de-brug")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "paars-fietspad-onder-de-brug")
    assert not verify_password(hashed, "paars-fietspad-onder-de-brug!")
    assert not verify_password(None, "x")
    assert not verify_password("not-a-hash", "x")


def test_cli_creates_a_user(build: Any, runner: Any) -> None:
    from fiptrial.services.users import find_user

    trial = build.trial()
    build.site(trial, code="bw")
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--role",
            "site_coordinator",
            "--site",
            "bw",
            "--username",
            "Marieke",
            "--password",
            "paars-fietspad-onder-de-brug",
        ]
    )
    assert result.exit_code == 0, result.output
    user = find_user("marieke")
    assert user.role == "site_coordinator" and user.site.code == "bw"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "analyst", "--username", "a1", "--password", "kort"], "at least 12"),
        (
            ["--role", "analyst", "--username", "piet", "--password", "piet-is-de-beste-1"],
            "user name",
        ),
        (
            [
                "--role",
                "site_coordinator",
                "--username",
                "c1",
                "--password",
                "paars-fietspad-onder-de-brug",
            ],
            "belongs to one site",
        ),
        (
            [
                "--role",
                "analyst",
                "--site",
                "bw",
                "--username",
                "c2",
                "--password",
                "paars-fietspad-onder-de-brug",
            ],
            "has no site",
        ),
    ],
)
def test_cli_refuses_weak_passwords_and_wrong_sites(
    build: Any, runner: Any, args: list[str], message: str
) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import User

    trial = build.trial()
    build.site(trial, code="bw")
    result = runner.invoke(args=["user", "create", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert db.session.query(User).count() == 0


def test_cli_prompts_for_the_password(build: Any, runner: Any) -> None:
    from fiptrial.services.users import find_user

    result = runner.invoke(
        args=["user", "create", "--role", "analyst", "--username", "ana"],
        input="paars-fietspad-onder-de-brug\npaars-fietspad-onder-de-brug\n",
    )
    assert result.exit_code == 0, result.output
    assert "paars-fietspad" not in result.output
    assert find_user("ana") is not None


def test_duplicate_user_is_refused(build: Any, runner: Any) -> None:
    args = [
        "user",
        "create",
        "--role",
        "analyst",
        "--username",
        "ana",
        "--password",
        "paars-fietspad-onder-de-brug",
    ]
    assert runner.invoke(args=args).exit_code == 0
    result = runner.invoke(args=args)
    assert result.exit_code == 1 and "already exists" in result.output


def test_user_creation_is_audited(build: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import AuditEntry
    from fiptrial.services.users import create_user

    create_user(
        username="ana", role="analyst", password="paars-fietspad-onder-de-brug", actor="test"
    )
    entry = db.session.query(AuditEntry).filter_by(action="user.created").one()
    assert json.loads(entry.data)["role"] == "analyst"
    assert "paars" not in entry.data


def test_set_password_resets_the_count_and_list_shows_users(build: Any, runner: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.services.users import authenticate, create_user, find_user

    create_user(
        username="ana", role="analyst", password="paars-fietspad-onder-de-brug", actor="test"
    )
    user = find_user("ana")
    user.failed_logins = 5
    db.session.commit()
    listing = runner.invoke(args=["user", "list"])
    assert "ana\tanalyst\t-\tactive" in listing.output
    result = runner.invoke(
        args=[
            "user",
            "set-password",
            "--username",
            "ana",
            "--password",
            "groene-tram-naar-het-station",
        ]
    )
    assert result.exit_code == 0, result.output
    assert authenticate("ana", "groene-tram-naar-het-station").username == "ana"
    assert find_user("ana").failed_logins == 0
    weak = runner.invoke(
        args=["user", "set-password", "--username", "ana", "--password", "ana-wachtwoord-123"]
    )
    assert weak.exit_code == 1 and "user name" in weak.output
