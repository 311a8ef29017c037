"""Mapping tables: the versioned data file and the platform's one mapping rule."""

from __future__ import annotations

import pytest

from fiptrial.plugins.mapping import (
    HISTORIC_2010_CODES,
    MappedReason,
    MappingFileError,
    ReasonEntry,
    ReasonMapping,
    load_mapping_csv,
    map_with_table,
    shared_codes,
)

HEADER = "local_code;action;bus_code;historic_codes;description\n"


def test_shared_codes_are_the_bus_list():
    codes = shared_codes()
    assert len(codes) == 21
    assert {"01", "11", "32", "98"} <= set(codes)
    assert not set(codes) & set(HISTORIC_2010_CODES)


def test_load_mapping_file(tmp_path):
    path = tmp_path / "mapping.csv"
    path.write_text(
        "# a comment\n# mapping_version: 3\n" + HEADER + "ARB;map;11;;Werk\nKUN;map;13;21 22;\n"
        "99;reject;;99;Geen reden\n",
        encoding="utf-8",
    )
    mapping = load_mapping_csv(path)
    assert mapping.version == "3"
    assert mapping.local_codes == ("ARB", "KUN", "99")
    assert mapping.get("KUN") == ReasonEntry("KUN", "map", "13", ("21", "22"), "")
    assert mapping.get("99").action == "reject"
    assert set(mapping.historic_handling()) == {"21", "22", "99"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER + "ARB;map;11;;\n", "no '# mapping_version"),
        ("# mapping_version: 1\n", "no header line"),
        ("# mapping_version: 1\nlocal;bus\n", "header must be"),
        ("# mapping_version: 1\n" + HEADER + "ARB;map;11\n", "line 3: expected 5 fields"),
        ("# mapping_version: 1\n" + HEADER + "ARB;exit;11;;\n", "line 3: action must be"),
    ],
)
def test_malformed_mapping_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "mapping.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingFileError, match=message):
        load_mapping_csv(path)


def test_duplicates_are_kept_visible_for_the_start_up_check():
    mapping = ReasonMapping("1", (ReasonEntry("A", "map", "11"), ReasonEntry("A", "map", "13")))
    assert mapping.local_codes == ("A", "A")
    assert mapping.get("A").bus_code == "11"


def test_fingerprint_changes_with_the_table_not_the_descriptions():
    one = ReasonMapping("1", (ReasonEntry("A", "map", "11", (), "Werk"),))
    same = ReasonMapping("1", (ReasonEntry("A", "map", "11", (), "Arbeid"),))
    other = ReasonMapping("1", (ReasonEntry("A", "map", "13"),))
    assert one.fingerprint == same.fingerprint != other.fingerprint


MAPPING = ReasonMapping(
    "v1",
    (
        ReasonEntry("ARB", "map", "11"),
        ReasonEntry("VHG", "map", "32"),
        ReasonEntry("51", "reject", None, ("51",), "bestaat niet meer"),
    ),
)
MEMBERS = ("GM0748", "GM0851", "GM0873")


@pytest.mark.parametrize(
    ("code", "new", "expected"),
    [
        ("ARB", None, MappedReason("exit", "ARB", "11", "v1")),
        ("ARB", "GM0851", MappedReason("exit", "ARB", "11", "v1")),
        ("VHG", "GM0851", MappedReason("transfer", "VHG", None, "v1")),
        ("VHG", "GM0599", MappedReason("exit", "VHG", "32", "v1")),
        ("VHG", None, MappedReason("exit", "VHG", "32", "v1")),
        ("51", None, MappedReason("rejected", "51", None, "v1", "bestaat niet meer")),
    ],
)
def test_map_with_table(code, new, expected):
    assert map_with_table(MAPPING, code, new, MEMBERS) == expected


def test_unknown_code_is_unmapped_not_guessed():
    result = map_with_table(MAPPING, "XYZ", None, MEMBERS)
    assert (result.kind, result.bus_code, result.mapping_version) == ("unmapped", None, "v1")
    assert not result.is_exit
