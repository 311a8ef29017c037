"""One test per hook (``test_hook_<name>``), and the rules that keep the hooks documented.

As in Datasette: a new hook without a ``test_hook_<name>`` here, without a docstring, or
missing from the generated reference page fails the suite.
"""

from __future__ import annotations

import io
import sys

import pytest

from fiptrial.plugins import ExportRow, MappedReason, ReasonMapping, SitePluginInfo, hookdocs
from fiptrial.plugins.manager import DEFAULTS_NAME, PluginHost, build_plugin_manager, site_hook

HOOKS = list(hookdocs.hook_specs())


def test_hook_site_plugin_info(host_with):
    host = host_with("fixture_site")
    answers = host.pm.hook.site_plugin_info()
    assert answers == [SitePluginInfo("fixture_site", "1.0", "Fixture site", ("GM0748", "GM0851"),
                                      "test.1", api_version="2.0")]  # fmt: skip


def test_hook_reason_mappings(host_with):
    pm = host_with("fixture_site", "greedy_site").pm
    (mapping,) = site_hook(pm, "fixture_site", "reason_mappings")()
    assert isinstance(mapping, ReasonMapping)
    assert mapping.version == "test.1"
    assert mapping.get("VRH").bus_code == "32"
    assert site_hook(pm, "greedy_site", "reason_mappings")()[0].version == "g.1"


def test_hook_read_export(host_with, fixture_plugin):
    pm = host_with("fixture_site", "greedy_site").pm
    source = (fixture_plugin("fixture_site").HERE / "fixture_export.csv").open("rb")
    with source:
        rows = list(site_hook(pm, "fixture_site", "read_export")(source=source, wanted=None))
    assert all(isinstance(row, ExportRow) for row in rows)
    assert [row.line for row in rows] == [2, 3, 4, 5]
    assert rows[2].local_reason == "VRH"
    assert rows[2].new_municipality == "GM0748"
    assert list(site_hook(pm, "greedy_site", "read_export")(source=io.BytesIO(), wanted=None)) == []


def test_hook_map_reason(host_with):
    host = host_with("fixture_site")
    mapping = host["fixture_site"].mapping
    members = ("GM0748", "GM0851")

    def call(code, new=None):
        return site_hook(host.pm, "fixture_site", "map_reason", defaults=True)(
            local_code=code,
            new_municipality=new,
            site_municipalities=members,
            mapping=mapping,
        )

    assert call("WRK") == MappedReason("exit", "WRK", "11", "test.1")
    assert call("VRH", "GM0851") == MappedReason("transfer", "VRH", None, "test.1")
    assert call("VRH", "GM0599") == MappedReason("exit", "VRH", "32", "test.1")
    assert call("WRK", "GM0851").kind == "exit"  # only a move can be a transfer
    assert call("51").kind == "rejected"
    assert call("NEW").kind == "unmapped"
    assert call("BTL") == MappedReason("exit", "BTL", "33", "test.1")  # the plugin's own answer


def test_hook_sample_export(host_with):
    pm = host_with("fixture_site", "greedy_site").pm
    sample = site_hook(pm, "fixture_site", "sample_export")()
    assert sample.name == "fixture_export.csv"
    assert site_hook(pm, "greedy_site", "sample_export")() is None


@pytest.mark.parametrize(("plugin", "local_reason"), [("brabantse_wal", "VHG"), ("template", "32")])
def test_hook_write_export(plugin, local_reason):
    """Both shipped plugins write their own format, and their reader gives the rows back."""
    from datetime import date

    host = PluginHost(build_plugin_manager(entry_points=True))
    site = host[plugin]
    rows = [
        ExportRow(0, "123456782", date(1980, 3, 1), "female", "GM0748", date(2020, 1, 6),
                  None, None, None, unit_key="700001", statistic_code="01"),
        ExportRow(0, "111222333", date(1975, 12, 31), "male", "GM0851", date(2019, 5, 1),
                  date(2025, 2, 28), local_reason, "GM0873", unit_key="700002",
                  statistic_code="01"),
    ]  # fmt: skip
    out = io.BytesIO()
    assert site.write_export(rows, out) == 2
    read = list(site.read_export(io.BytesIO(out.getvalue())))
    assert [row.errors for row in read] == [(), ()]
    assert [row[1:9] + row[10:12] for row in read] == [row[1:9] + row[10:12] for row in rows]


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_have_tests(hook):
    assert f"test_hook_{hook}" in vars(sys.modules[__name__]), f"hook {hook} has no test"


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook):
    spec = hookdocs.hook_specs()[hook]
    doc = " ".join((spec.__doc__ or "").split())  # as one line: wrapping must not matter
    assert len(doc.strip()) > 80, f"hook {hook} has no real docstring"
    assert "Receives" in doc and "Returns" in doc, f"{hook}: say what it receives and returns"
    if hookdocs.is_firstresult(spec):
        assert "first non-``None`` result wins" in doc
    else:
        assert "collected" in doc


def test_hook_reference_page_is_current():
    assert hookdocs.DOC_PATH.read_text(encoding="utf-8") == hookdocs.render(), (
        "plugin-hooks.md is out of date: run python -m fiptrial.plugins.hookdocs"
    )
    for hook in HOOKS:
        assert f"\n## {hook}\n" in hookdocs.render()


def test_every_hook_is_known_to_the_manager():
    pm = build_plugin_manager(entry_points=False)
    specified = {name for name in vars(pm.hook) if not name.startswith("_")}
    assert specified == set(HOOKS)
    assert pm.get_plugin(DEFAULTS_NAME) is not None


def test_site_plugin_handle_calls_its_own_hooks(fixture_site, tmp_path):
    assert isinstance(fixture_site, object)
    path = tmp_path / "export.csv"
    path.write_bytes((fixture_site.sample_export()).read_bytes())
    rows = list(fixture_site.read_export(path))  # a path: the host opens and closes it
    assert len(rows) == 4
    mapper = fixture_site.reason_mapper()
    assert mapper("VRH", "GM0748").kind == "transfer"
    assert mapper("VRH", "GM0748") is mapper("VRH", "GM0748")  # memoised
    assert fixture_site.reason_mapper(["GM0599"])("VRH", "GM0748").kind == "exit"


def test_host_is_iterable_by_name(host_with):
    host: PluginHost = host_with("fixture_site")
    assert [site.name for site in host] == ["fixture_site"]
    assert len(host) == 1
