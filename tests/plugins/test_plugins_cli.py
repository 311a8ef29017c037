"""``fiptrial plugins list`` and ``fiptrial plugins check`` through click's test runner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from fiptrial.cli.plugins import PluginCliConfig, plugins_cli


def _invoke(args, plugins=None, entry_points=False):
    config = PluginCliConfig(entry_points=entry_points, plugins=plugins or {})
    return CliRunner().invoke(plugins_cli, args, obj=config)


def test_list_shows_versions_and_mapping_versions(fixture_plugin):
    result = _invoke(["list"], {"fixture_site": fixture_plugin("fixture_site")})
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()
    assert header.split()[:3] == ["NAME", "VERSION", "MAPPING"]
    assert row.split()[:3] == ["fixture_site", "1.0", "test.1"]


def test_list_marks_broken_plugins_and_exits_non_zero(fixture_plugin):
    plugins = {
        "fixture_site": fixture_plugin("fixture_site"),
        "broken_mapping": fixture_plugin("broken_mapping"),
    }
    result = _invoke(["list", "--json"], plugins)
    assert result.exit_code == 1
    entries = {entry["name"]: entry for entry in json.loads(result.output)}
    assert entries["fixture_site"]["status"] == "ok"
    assert entries["broken_mapping"]["status"] == "broken"
    assert (
        "local code 'FOO' maps to unknown shared code '42'"
        in (entries["broken_mapping"]["problems"])
    )


def test_list_with_the_installed_plugins():
    result = _invoke(["list"], entry_points=True)
    assert result.exit_code == 0, result.output
    assert "brabantse_wal" in result.output and "template" in result.output


def test_check_passes_a_good_plugin(fixture_plugin):
    result = _invoke(["check", "fixture_site"], {"fixture_site": fixture_plugin("fixture_site")})
    assert result.exit_code == 0, result.output
    assert result.output.count("  passed  ") == 9
    assert "All 9 checks passed." in result.output


def test_check_names_each_failure_and_exits_non_zero(fixture_plugin):
    result = _invoke(
        ["check", "broken_mapping"], {"broken_mapping": fixture_plugin("broken_mapping")}
    )
    assert result.exit_code == 1
    assert "FAILED  shared_codes" in result.output
    assert "- local code 'FOO' maps to unknown shared code '42'" in result.output
    assert (
        "5 of 9 checks failed: municipalities, local_codes_unique, shared_codes, "
        "historic_codes, sample_export" in result.output
    )


def test_check_with_a_sample_file(fixture_plugin, tmp_path):
    sample = tmp_path / "x.csv"
    sample.write_text("nonsense\n")
    result = _invoke(
        ["check", "fixture_site", "--sample", str(sample)],
        {"fixture_site": fixture_plugin("fixture_site")},
    )
    assert result.exit_code == 1
    assert "FAILED  sample_export" in result.output
    assert "has a single column" in result.output


def test_docs_check_reports_a_current_page():
    result = _invoke(["docs", "--check"])
    assert result.exit_code == 0, result.output
