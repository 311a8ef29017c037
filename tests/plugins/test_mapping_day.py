"""A site's current reason table is the one valid on the Dutch calendar day, not the server's.

Between 22:00 and 24:00 UTC in summer (23:00 and 24:00 in winter) Amsterdam is a day ahead of a
server that keeps UTC: a version valid from 1 July applies from midnight in the Netherlands.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

import pytest

from fiptrial import timezone
from fiptrial.plugins.declarative import DeclarativeSite
from fiptrial.plugins.declarative.scaffold import new_site
from fiptrial.plugins.mapping import ReasonMapping

#: 23:30 on 30 June in Amsterdam (CEST, UTC+2), and 00:30 on 1 July: both still 30 June in UTC.
BEFORE_MIDNIGHT = datetime(2026, 6, 30, 21, 30, tzinfo=UTC)
AFTER_MIDNIGHT = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)
NEW_TABLE_FROM = date(2026, 7, 1)


def freeze(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """Stop the trial's clock (``fiptrial.timezone``) at ``moment``."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Any:
            return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)

    monkeypatch.setattr(timezone, "datetime", Frozen)


def test_the_frozen_clock_is_a_day_ahead_of_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch, AFTER_MIDNIGHT)
    assert AFTER_MIDNIGHT.date() == date(2026, 6, 30)
    assert timezone.local_today() == NEW_TABLE_FROM


@pytest.mark.parametrize(
    ("moment", "version"), [(BEFORE_MIDNIGHT, "test.1"), (AFTER_MIDNIGHT, "test.2")]
)
def test_a_site_plugin_takes_the_table_of_the_dutch_day(
    monkeypatch: pytest.MonkeyPatch, fixture_site: Any, moment: datetime, version: str
) -> None:
    assert fixture_site.mapping.version == "test.1"
    newer = dataclasses.replace(fixture_site.mapping, version="test.2", valid_from=NEW_TABLE_FROM)
    history = (*fixture_site.history, newer)
    freeze(monkeypatch, moment)
    assert dataclasses.replace(fixture_site, history=history).mapping_version == version


@pytest.mark.parametrize(
    ("moment", "version"), [(BEFORE_MIDNIGHT, "2026.1"), (AFTER_MIDNIGHT, "2026.2")]
)
def test_a_declarative_site_takes_the_table_of_the_dutch_day(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moment: datetime, version: str
) -> None:
    folder = new_site("gouda", tmp_path, layout="csv", members=("GM0513",))
    mapping = folder / "mapping.csv"
    lines = mapping.read_text("utf-8").splitlines()
    first = [line for line in lines if line.startswith("2026.1;2026-01-01;")]
    assert first
    second = [line.replace("2026.1;2026-01-01;", "2026.2;2026-07-01;", 1) for line in first]
    mapping.write_text("\n".join([*lines, *second]) + "\n", "utf-8")
    freeze(monkeypatch, moment)
    site = DeclarativeSite.load(folder)
    assert [m.version for m in site.history] == ["2026.1", "2026.2"]
    assert isinstance(site.current, ReasonMapping)
    assert site.current.version == version
    assert site.info.mapping_version == version
