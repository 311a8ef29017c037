"""The conformance checks, as a plugin's own tests and ``fiptrial plugins check`` run them."""

from __future__ import annotations

import pytest

from fiptrial.plugins.conformance import CHECKS, assert_plugin_conforms, check_plugin
from fiptrial.plugins.mapping import ReasonEntry, ReasonMapping


def _results(name, plugins, **kwargs):
    return {r.name: r for r in check_plugin(name, plugins=plugins, entry_points=False, **kwargs)}


def test_a_good_plugin_passes_every_check(fixture_plugin):
    results = _results("fixture_site", {"fixture_site": fixture_plugin("fixture_site")})
    assert list(results) == list(CHECKS)
    assert all(r.passed for r in results.values()), results
    assert results["sample_export"].details[0] == (
        "4 rows: 1 running, 2 exits, 1 transfers within the site, 0 rejected codes, "
        "0 with errors, 0 with unmapped codes"
    )
    assert_plugin_conforms("fixture_site", plugins={"fixture_site": fixture_plugin("fixture_site")},
                           entry_points=False)  # fmt: skip


def test_a_broken_mapping_fails_with_named_errors(fixture_plugin):
    results = _results("broken_mapping", {"broken_mapping": fixture_plugin("broken_mapping")})
    failed = {name for name, r in results.items() if not r.passed}
    assert failed == {
        "municipalities",
        "local_codes_unique",
        "shared_codes",
        "historic_codes",
        "sample_export",
    }
    assert "local code 'FOO' maps to unknown shared code '42'" in results["shared_codes"].details
    assert "duplicate local code 'ARB'" in results["local_codes_unique"].details
    assert any("'0851'" in d for d in results["municipalities"].details)
    assert any("historic code 51" in d for d in results["historic_codes"].details)
    assert any("ships no sample export" in d for d in results["sample_export"].details)
    with pytest.raises(AssertionError, match="shared_codes: local code 'FOO'"):
        assert_plugin_conforms(
            "broken_mapping",
            plugins={"broken_mapping": fixture_plugin("broken_mapping")},
            entry_points=False,
        )


def test_a_move_inside_the_site_that_exits_fails(fixture_plugin):
    module = fixture_plugin("fixture_site")
    from fiptrial.plugins import MappedReason, hookimpl

    @hookimpl(tryfirst=True)
    def map_reason(local_code, new_municipality, mapping):
        if local_code == "VRH":
            return MappedReason("exit", local_code, "32", mapping.version)
        return None

    module.map_reason = map_reason
    results = _results("fixture_site", {"fixture_site": module})
    assert not results["move_within_site"].passed
    assert "VRH with new municipality GM0748 gives exit" in results["move_within_site"].details


def test_guessing_an_unknown_code_fails(fixture_plugin):
    module = fixture_plugin("fixture_site")
    from fiptrial.plugins import MappedReason, hookimpl

    @hookimpl
    def map_reason(local_code, mapping):
        if mapping.get(local_code) is None:
            return MappedReason("exit", local_code, "98", mapping.version)
        return None

    module.map_reason = map_reason
    results = _results("fixture_site", {"fixture_site": module})
    assert "an unknown local code gives exit, not unmapped: never guess" in (
        results["shared_codes"].details
    )


def test_missing_moving_code_fails_the_move_check(fixture_plugin):
    module = fixture_plugin("fixture_site")
    entries = tuple(e for e in module.MAPPING.entries if e.bus_code != "32")
    module.MAPPING = ReasonMapping(module.MAPPING.version, entries)
    results = _results("fixture_site", {"fixture_site": module})
    assert results["move_within_site"].details == (
        "no local code maps to 32 (moved to another municipality)",
    )


def test_a_given_sample_is_parsed_but_may_have_bad_rows(fixture_plugin, tmp_path):
    sample = tmp_path / "real.csv"
    sample.write_bytes(
        b"bsn;geboortedatum;geslacht;gemeentecode;aanvang_uitkering;einde_uitkering;"
        b"reden_beeindiging;nieuwe_gemeentecode\n999998524;19800101;1;0748;20200101;;;\n"
        b"999998523;19800101;1;0748;20200101;20250101;NEW;\n"
    )
    results = _results("fixture_site", {"fixture_site": fixture_plugin("fixture_site")},
                       sample=sample)  # fmt: skip
    assert results["sample_export"].passed
    details = results["sample_export"].details
    assert any("1 with errors, 1 with unmapped codes" in d for d in details)
    # per column, counts only: the invalid BSN is counted, never shown
    assert "column bsn: 1 valid, 1 invalid, 0 empty" in details
    assert "unmapped local codes: 'NEW' (1)" in details
    assert not any("999998524" in d or "19800101" in d for d in details)


def test_an_unreadable_sample_fails_with_the_reason(fixture_plugin, tmp_path):
    sample = tmp_path / "wrong.csv"
    sample.write_bytes(b"a,b,c\n1,2,3\n")
    results = _results("fixture_site", {"fixture_site": fixture_plugin("fixture_site")},
                       sample=sample)  # fmt: skip
    assert not results["sample_export"].passed
    assert (
        "cannot be read: the export separates its columns with ','"
        in (results["sample_export"].details[0])
    )


def test_a_plugin_that_does_not_load_fails_every_check(fixture_plugin):
    results = check_plugin(
        "misspelt_hook",
        plugins={"misspelt_hook": fixture_plugin("misspelt_hook")},
        entry_points=False,
    )
    assert not any(r.passed for r in results)
    assert "read_exprot" in results[0].details[0]


def test_an_unknown_plugin_name_is_reported():
    results = check_plugin("no_such_site", entry_points=False)
    assert "no site plugin named 'no_such_site'" in results[0].details[0]


def test_rejected_table_codes_must_be_rejected_by_map_reason(fixture_plugin):
    module = fixture_plugin("fixture_site")
    module.MAPPING = ReasonMapping(
        module.MAPPING.version, (*module.MAPPING.entries, ReasonEntry("X", "reject", None))
    )
    from fiptrial.plugins import MappedReason, hookimpl

    @hookimpl
    def map_reason(local_code, mapping):
        if local_code == "X":
            return MappedReason("exit", "X", "11", mapping.version)
        return None

    module.map_reason = map_reason
    results = _results("fixture_site", {"fixture_site": module})
    assert "local code 'X' is rejected in the table but map_reason gives exit" in (
        results["shared_codes"].details
    )
