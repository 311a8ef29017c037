"""The platform's conformance checks, run from the plugin's own tests.

Keep this file when you copy the template: ``assert_plugin_conforms`` is what the trial's data
manager will run too (``fiptrial plugins check <name>``). Change NAME to your plugin's name.
"""

from __future__ import annotations

import pytest

from fiptrial.plugins.conformance import assert_plugin_conforms
from fiptrial.plugins.manager import build_plugin_host

NAME = "template"  # RENAME: your plugin's entry-point name
#: Fingerprint of each released mapping version: editing the table without raising
#: mapping_version fails here. Add a line per new version; never change an existing one.
RELEASED = {"2026.1": "86622c32aecd"}


@pytest.fixture(scope="module")
def site():
    return build_plugin_host(entry_points=NAME)[NAME]


def test_plugin_conforms():
    assert_plugin_conforms(NAME)


def test_mapping_was_not_edited_without_a_new_version(site):
    assert site.mapping_version in RELEASED, (
        f"add {site.mapping_version!r}: {site.mapping.fingerprint[:12]!r} to RELEASED"
    )
    assert site.mapping.fingerprint.startswith(RELEASED[site.mapping_version])


def test_members_come_from_the_site_settings(site):
    assert site.municipalities == ()
    members = ("GM0363", "GM0384")
    assert site.map_reason("32", "GM0384", members).kind == "transfer"
    assert site.map_reason("32", "GM0599", members).bus_code == "32"


@pytest.mark.parametrize(
    ("code", "kind", "bus_code"),
    [("11", "exit", "11"), ("20", "exit", "11"), ("21", "exit", "13"), ("22", "exit", "13"),
     ("51", "rejected", None), ("99", "rejected", None), ("42", "unmapped", None)],
)  # fmt: skip
def test_bus_and_historic_codes(site, code, kind, bus_code):
    result = site.map_reason(code)
    assert (result.kind, result.bus_code) == (kind, bus_code)
