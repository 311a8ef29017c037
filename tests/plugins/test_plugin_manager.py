"""The plugin manager: build order, check_pending, and refusing broken plugins at start-up."""

from __future__ import annotations

import dataclasses

import pluggy
import pytest
from flask import Flask

from fiptrial.plugins import hookspecs, manager
from fiptrial.plugins.manager import (
    DEFAULTS_NAME,
    EXTENSION_KEY,
    PluginHost,
    SitePluginError,
    build_plugin_manager,
    get_site_plugin,
    init_plugins,
    list_site_plugins,
)


def test_defaults_are_registered_first_and_a_site_answers_for_itself(fixture_plugin):
    pm = build_plugin_manager(
        entry_points=False,
        plugins={
            "fixture_site": fixture_plugin("fixture_site"),
            "wrap_mapping": fixture_plugin("wrap_mapping"),
        },
    )
    names = [name for name, _ in pm.list_name_plugin()]
    assert names == [DEFAULTS_NAME, "fixture_site", "wrap_mapping"]
    site = PluginHost(pm)["fixture_site"]
    # wrap_mapping, asked first by a plain pm.hook call, has no say over fixture_site:
    assert (
        pm.hook.map_reason(
            local_code="WRK", new_municipality=None, site_municipalities=(), mapping=site.mapping
        ).bus_code
        == "13"
    )
    assert site.map_reason("WRK").bus_code == "11"  # the site's own table
    assert site.map_reason("BTL").bus_code == "33"  # fixture_site's own answer
    assert site.map_reason("VRH", "GM0748").kind == "transfer"  # the platform default


def test_a_greedy_plugin_answers_for_itself_only(host_with, fixture_plugin, tmp_path):
    host = host_with("fixture_site", "greedy_site")
    site, greedy = host["fixture_site"], host["greedy_site"]
    sample = fixture_plugin("fixture_site").HERE / "fixture_export.csv"
    assert len(list(site.read_export(sample))) == 4  # not the greedy generator's nothing
    assert list(greedy.read_export(sample)) == []
    assert site.map_reason("WRK").bus_code == "11"
    assert greedy.map_reason("WRK").bus_code == "98"
    assert site.mapping.version == "test.1" and greedy.mapping.version == "g.1"


def test_a_version_one_plugin_is_refused_with_an_explanation(fixture_plugin):
    with pytest.raises(SitePluginError) as caught:
        build_plugin_manager(
            entry_points=False, plugins={"version_one": fixture_plugin("version_one")}
        )
    assert "written for plugin interface 1" in str(caught.value)


@pytest.mark.parametrize(
    ("declared", "fragment"),
    [
        ("", "declares no plugin interface version"),
        ("1.4", "was written for plugin interface 1.4; this platform has 2.1"),
        ("2.7", "was written for plugin interface 2.7"),
        ("two", "is not a version"),
    ],
)
def test_the_interface_version_is_checked_at_start_up(fixture_plugin, declared, fragment):
    module = _with_info(fixture_plugin("fixture_site"), api_version=declared)
    with pytest.raises(SitePluginError, match=fragment):
        PluginHost(build_plugin_manager(entry_points=False, plugins={"fixture_site": module}))


def test_an_older_minor_interface_version_is_accepted(fixture_plugin):
    module = _with_info(fixture_plugin("fixture_site"), api_version="2")
    host = PluginHost(build_plugin_manager(entry_points=False, plugins={"fixture_site": module}))
    assert host["fixture_site"].info.api_version == "2"


def test_installed_plugins_load_through_the_entry_point_group():
    host = PluginHost(build_plugin_manager())
    assert {"brabantse_wal", "template"} <= set(host.sites)
    assert host["brabantse_wal"].distribution.startswith("fiptrial-brabantse-wal ")
    assert host["brabantse_wal"].is_declarative and not host["template"].is_declarative


def test_loading_one_entry_point_by_name():
    pm = build_plugin_manager(entry_points="template")
    assert [name for name, _ in pm.list_name_plugin()] == [DEFAULTS_NAME, "template"]


@pytest.mark.parametrize(
    ("plugin", "named"),
    [("misspelt_hook", "read_exprot"), ("wrong_arguments", "municipality")],
    ids=["misspelt hook fails check_pending", "hook with an unknown argument"],
)
def test_a_wrong_hook_is_refused_naming_the_plugin_and_the_hook(fixture_plugin, plugin, named):
    with pytest.raises(SitePluginError) as caught:
        build_plugin_manager(entry_points=False, plugins={plugin: fixture_plugin(plugin)})
    assert plugin in caught.value.problems
    assert named in str(caught.value)


def test_broken_mapping_stops_start_up_naming_plugin_and_codes(host_with):
    with pytest.raises(SitePluginError) as caught:
        host_with("broken_mapping")
    messages = caught.value.problems["broken_mapping"]
    text = str(caught.value)
    assert "site plugin 'broken_mapping': local code 'FOO' maps to unknown shared code '42'" in text
    assert any("duplicate local code 'ARB'" in m for m in messages)
    assert any("invalid municipality code '0851'" in m for m in messages)


@pytest.mark.parametrize(
    ("members", "fragment"),
    [
        (("GM748",), "invalid municipality code 'GM748'"),
        (("GM0000",), "invalid municipality code 'GM0000'"),
        (("gm0748",), "invalid municipality code 'gm0748'"),
        (("GM0748", "GM0748"), "municipality GM0748 is listed twice"),
    ],
)
def test_invalid_member_municipalities_are_refused(fixture_plugin, members, fragment):
    module = _with_info(fixture_plugin("fixture_site"), municipalities=members)
    with pytest.raises(SitePluginError, match=fragment):
        PluginHost(build_plugin_manager(entry_points=False, plugins={"fixture_site": module}))


def test_mapping_version_must_match_the_info(fixture_plugin):
    module = _with_info(fixture_plugin("fixture_site"), mapping_version="test.0")
    with pytest.raises(SitePluginError, match=r"info says mapping version 'test\.0'"):
        PluginHost(build_plugin_manager(entry_points=False, plugins={"fixture_site": module}))


def _with_info(module, **changes):
    """The fixture module with its info hook answering ``changes`` on top of the original."""
    info = dataclasses.replace(module.site_plugin_info(), **changes)
    module.site_plugin_info = hookspecs.hookimpl(lambda: info)
    return module


def test_info_name_must_be_the_registered_name(host_with):
    with pytest.raises(SitePluginError, match="registered as 'misnamed_site' but its info says"):
        host_with("misnamed_site")


def test_two_sites_claiming_one_municipality_are_both_refused(host_with):
    with pytest.raises(SitePluginError) as caught:
        host_with("fixture_site", "neighbour_site")
    assert set(caught.value.problems) == {"fixture_site", "neighbour_site"}
    assert "GM0748 is also claimed by neighbour_site" in str(caught.value)


def test_non_strict_host_keeps_good_plugins_and_reports_broken_ones(host_with):
    host = host_with("fixture_site", "broken_mapping", strict=False)
    assert list(host.sites) == ["fixture_site"]
    assert {p.check for p in host.problems["broken_mapping"]} >= {
        "shared_codes",
        "local_codes_unique",
        "municipalities",
    }


def test_flask_app_exposes_the_host(fixture_plugin):
    app = Flask("plugin-test")
    app.config.update(
        PLUGINS_LOAD_ENTRY_POINTS=False,
        PLUGINS_EXTRA={"fixture_site": fixture_plugin("fixture_site")},
    )
    init_plugins(app)
    assert isinstance(app.extensions[EXTENSION_KEY], PluginHost)
    with app.app_context():
        site = get_site_plugin("fixture_site")
        assert site is not None
        assert (site.name, site.version, site.site_name) == ("fixture_site", "1.0", "Fixture site")
        assert site.municipalities == ("GM0748", "GM0851")
        assert site.mapping_version == "test.1"
        assert get_site_plugin("nope") is None
        assert [s.name for s in list_site_plugins()] == ["fixture_site"]


def test_flask_start_up_stops_on_a_broken_plugin(fixture_plugin):
    app = Flask("plugin-test")
    app.config.update(
        PLUGINS_LOAD_ENTRY_POINTS=False,
        PLUGINS_EXTRA={"broken_mapping": fixture_plugin("broken_mapping")},
    )
    with pytest.raises(SitePluginError, match="broken_mapping"):
        init_plugins(app)


def test_pluggy_manager_is_the_real_thing():
    pm = build_plugin_manager(entry_points=False)
    assert isinstance(pm, pluggy.PluginManager)
    assert pm.project_name == hookspecs.PROJECT_NAME


def test_a_plugin_that_cannot_be_imported_is_named():
    with pytest.raises(SitePluginError) as caught:
        build_plugin_manager(entry_points=False, plugins={"gone": "fiptrial_no_such_module"})
    assert "cannot be loaded" in caught.value.problems["gone"][0]


def test_one_name_from_two_distributions_is_refused(monkeypatch):
    class EntryPoint:
        group, name = manager.ENTRY_POINT_GROUP, "twin"

    class Distribution:
        entry_points = (EntryPoint(),)

        def __init__(self, name):
            self.metadata = {"Name": name}

    monkeypatch.setattr(
        manager.metadata, "distributions", lambda: [Distribution("a"), Distribution("b")]
    )
    manager._entry_point_names.cache_clear()
    try:
        with pytest.raises(SitePluginError, match="registered by several distributions: a, b"):
            build_plugin_manager()
    finally:
        manager._entry_point_names.cache_clear()
