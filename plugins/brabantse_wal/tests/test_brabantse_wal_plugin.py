"""The Brabantse Wal plugin as the platform sees it: conformance, table, members."""

from __future__ import annotations

import pytest

# The ISD's reason table at go-live. A changed table needs a new mapping version.
from bw_go_live_table import GO_LIVE

from fiptrial.plugins.conformance import assert_plugin_conforms

#: Fingerprint of each released mapping version: editing the table without a new version
#: fails here. Add a line for a new version; never change an existing one.
RELEASED = {
    "2026.1": "cb52c588f6c8",
}


def test_plugin_conforms():
    assert_plugin_conforms("brabantse_wal")


def test_info(site):
    assert site.name == "brabantse_wal"
    assert site.site_name == "ISD Brabantse Wal"
    assert site.municipalities == ("GM0748", "GM0851", "GM0873")
    assert site.version
    assert site.distribution.startswith("fiptrial-brabantse-wal ")


def test_table_is_the_go_live_table(site):
    mapped = {e.local_code: e.bus_code for e in site.mapping.entries if e.action == "map"}
    rejected = {e.local_code for e in site.mapping.entries if e.action == "reject"}
    assert mapped == GO_LIVE
    assert rejected == {"51", "52", "53", "61", "62", "99"}
    assert site.mapping.get("WLA").historic_codes == ("20",)
    assert site.mapping.get("KUN").historic_codes == ("21", "22")


def test_table_was_not_edited_without_a_new_version(site):
    assert site.mapping_version in RELEASED, (
        f"add {site.mapping_version!r}: {site.mapping.fingerprint[:12]!r} to RELEASED"
    )
    assert site.mapping.fingerprint.startswith(RELEASED[site.mapping_version])


@pytest.mark.parametrize("member", ["GM0748", "GM0851", "GM0873"])
def test_moving_within_the_isd_is_a_transfer(site, member):
    assert site.map_reason("VHG", member).kind == "transfer"


def test_moving_elsewhere_is_an_exit(site):
    result = site.map_reason("VHG", "GM1674")
    assert (result.kind, result.bus_code, result.mapping_version) == ("exit", "32", "2026.1")
    assert site.map_reason("VHB").bus_code == "33"


def test_historic_and_unknown_codes(site):
    assert site.map_reason("WLA").bus_code == "11"
    assert site.map_reason("KUN").bus_code == "13"
    assert site.map_reason("99").kind == "rejected"
    assert site.map_reason("XYZ").kind == "unmapped"
