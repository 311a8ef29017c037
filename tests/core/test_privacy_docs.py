"""The privacy paperwork follows the code (issue 16): the committed documents are what
``fiptrial privacy docs`` writes now, and they name every field of every model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table

from fiptrial.extensions import db
from fiptrial.services import privacy_docs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "privacy"
REGENERATE = "run `fiptrial privacy docs` and review the change"


def test_the_committed_documents_are_the_generated_ones(app: Any) -> None:
    generated = {
        "verwerkingsregister.md": privacy_docs.render_register(),
        "dpia.md": privacy_docs.render_dpia(),
    }
    for name, text in generated.items():
        assert (DOCS / name).read_text(encoding="utf-8") == text, f"{name}: {REGENERATE}"


def test_the_documents_list_every_field_of_every_model(app: Any) -> None:
    for name in privacy_docs.DOCS:
        text = (DOCS / name).read_text(encoding="utf-8")
        assert privacy_docs.unlisted_fields(text) == [], f"{name}: {REGENERATE}"


def test_a_new_field_is_caught_and_a_new_table_stops_the_generation(app: Any) -> None:
    text = (DOCS / "verwerkingsregister.md").read_text(encoding="utf-8")
    grown = MetaData()
    for table in db.metadata.sorted_tables:
        table.to_metadata(grown)
    grown.tables["participant"].append_column(Column("phone_number", String(20)))
    assert privacy_docs.unlisted_fields(text, grown) == ["participant.phone_number"]
    assert "`participant.phone_number`" in privacy_docs.render_register(grown)
    Table("client_photo", grown, Column("id", String(10), primary_key=True))
    with pytest.raises(privacy_docs.UnclassifiedTable, match="client_photo"):
        privacy_docs.render_register(grown)


def test_the_documents_state_the_measures_as_configured(app: Any) -> None:
    text = privacy_docs.render_dpia()
    assert "required for research_admin, site_coordinator" in text
    assert "fewer than 5 participants" in text
    assert "| `readlog.read` | yes |  |  |  | yes |" in text
    assert "`participant.birth_date` | the pseudonymised participant | never leaves" in text


def test_the_command_writes_both_documents(runner: Any, tmp_path: Path) -> None:
    out = tmp_path / "privacy"
    result = runner.invoke(args=["privacy", "docs", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(privacy_docs.DOCS)
