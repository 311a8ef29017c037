"""The one declarative reader: layouts, the BUS XML nesting, partners, whole-file refusals.

Expected rows are written out by hand from the file each test shows.
"""

from __future__ import annotations

import io
import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from fiptrial.plugins import PLUGIN_API_VERSION, ExportFormatError
from fiptrial.plugins.declarative import ExportLayout, SiteFileError, layout_files
from fiptrial.plugins.declarative.reader import read_export
from fiptrial.plugins.declarative.synthetic import synthetic_exports
from fiptrial.plugins.declarative.writer import write_export


def bus() -> ExportLayout:
    return ExportLayout.from_toml((layout_files("bus") / "export.toml").read_text("utf-8"))


def xml_rows(text: str, layout: ExportLayout | None = None) -> list:
    return list(read_export(layout or bus(), io.BytesIO(text.encode("utf-8"))))


DELIVERY = """<?xml version="1.0" encoding="UTF-8"?>
<!-- a BUS delivery -->
<Levering xmlns="urn:example:bus">
  <Uitkering>
    <Gemeentecode>0748</Gemeentecode>
    <Softwarepakket>sam</Softwarepakket>
    <Uitkeringsnummer>U-1</Uitkeringsnummer>
    <Statistiekcode>1</Statistiekcode>
    <RedenBeeindiging>11</RedenBeeindiging>
    <Persoon>
      <BSN>999998523</BSN><Geboortedatum>19800517</Geboortedatum><Geslacht>2</Geslacht>
      <DatumBegin>20200101</DatumBegin><DatumEinde>20261005</DatumEinde>
    </Persoon>
    <Persoon>
      <BSN>52856562</BSN><Geboortedatum>19820101</Geboortedatum><Geslacht>1</Geslacht>
      <DatumBegin>20200101</DatumBegin><DatumEinde>20261005</DatumEinde>
    </Persoon>
  </Uitkering>
  <Uitkering>
    <Gemeentecode>GM0851</Gemeentecode>
    <Uitkeringsnummer>U-2</Uitkeringsnummer>
    <Statistiekcode>12</Statistiekcode>
    <RedenBeeindiging></RedenBeeindiging>
    <Persoon>
      <BSN>999998524</BSN><Geboortedatum>19803105</Geboortedatum><Geslacht>3</Geslacht>
      <DatumBegin>20200101</DatumBegin><DatumEinde></DatumEinde>
    </Persoon>
  </Uitkering>
</Levering>
"""


def test_a_bus_delivery_gives_one_row_per_person_with_the_benefit_fields() -> None:
    first, partner, bad = xml_rows(DELIVERY)
    assert (first.line, first.bsn, first.birth_date, first.sex) == (
        10, "999998523", date(1980, 5, 17), "female",
    )  # fmt: skip
    assert (first.municipality, first.unit_key, first.statistic_code) == ("GM0748", "U-1", "01")
    assert (first.benefit_end, first.local_reason) == (date(2026, 10, 5), "11")
    assert (partner.line, partner.bsn, partner.unit_key) == (14, "052856562", "U-1")
    assert partner.is_valid and first.is_valid
    assert bad.statistic_code == "12" and bad.unit_key == "U-2"
    assert [e.code for e in bad.errors] == [
        "row_invalid_bsn", "row_invalid_date", "row_invalid_sex",
    ]  # fmt: skip
    assert bad.errors[0] == "Persoon/BSN is not a valid BSN (9 digits passing the elfproef)"
    assert not any("999998524" in e or "19803105" in e for e in bad.errors)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "export_empty"),
        ("   \n", "export_empty"),
        ('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]>\n<Levering>&a;</Levering>',
         "export_xml_dtd"),
        ("<Levering><Uitkering><Gemeentecode>0748</Levering>", "export_not_xml"),
        ("<Levering><Iets/></Levering>", "export_xml_no_records"),
        ("dit is geen xml", "export_not_xml"),
    ],
)  # fmt: skip
def test_a_file_that_is_no_delivery_is_refused_as_a_whole(text: str, code: str) -> None:
    with pytest.raises(ExportFormatError) as caught:
        xml_rows(text)
    assert caught.value.code == code
    assert caught.value.message


def test_a_benefit_without_persons_is_a_bad_row_not_a_crash() -> None:
    (row,) = xml_rows("<Levering><Uitkering><Gemeentecode>0748</Gemeentecode></Uitkering>"
                      "</Levering>")  # fmt: skip
    assert [e.code for e in row.errors] == ["row_no_person"]


def test_element_names_come_from_the_layout_file() -> None:
    renamed = (
        (layout_files("bus") / "export.toml")
        .read_text("utf-8")
        .replace('bsn = "BSN"', 'bsn = "Burgerservicenummer"')
    )
    layout = ExportLayout.from_toml(renamed)
    (row, partner, _bad) = xml_rows(DELIVERY.replace("BSN>", "Burgerservicenummer>"), layout)
    assert row.bsn == "999998523" and partner.bsn == "052856562"
    (without,) = xml_rows(DELIVERY, layout)[:1]  # the old name is no longer read
    assert without.bsn is None and without.errors[0].code == "row_value_missing"


def test_the_reader_streams_xml(monkeypatch: pytest.MonkeyPatch) -> None:
    from fiptrial.plugins.parsing import DateParser

    monkeypatch.setattr(DateParser, "MAX_CACHED", 500)

    def peak(benefits: int) -> int:
        _, rows = synthetic_exports(("GM0748",), benefits=benefits, seed=2)
        out = io.BytesIO()
        write_export(bus(), rows, out)
        out.seek(0)
        tracemalloc.start()
        try:
            for _ in read_export(bus(), out):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(500), peak(5_000)
    assert large < small * 1.5, (small, large)


CSV_WITH_PARTNER = """\
format = "csv"
[csv]
delimiters = [";"]
[dates]
format = "jjjj-mm-dd"
[sex]
male = ["m"]
female = ["v"]
[unit]
given_by = "partner_columns"
[fields]
bsn = "bsn"
birth_date = "geboren"
sex = "geslacht"
municipality = "gemeente"
benefit_start = "begin"
benefit_end = "einde"
local_reason = { name = "reden", upper = true }
[partner]
bsn = "bsn_partner"
birth_date = "geboren_partner"
sex = "geslacht_partner"
"""


def test_a_partner_on_the_applicants_line_becomes_a_second_row_of_the_unit() -> None:
    layout = ExportLayout.from_toml(CSV_WITH_PARTNER)
    data = (
        b"bsn;geboren;geslacht;gemeente;begin;einde;reden;bsn_partner;geboren_partner;"
        b"geslacht_partner\n"
        b"999998523;1980-05-17;V;0748;2020-01-01;2026-10-05;arb;999998535;1981-02-03;M\n"
        b"999993653;1970-01-01;M;0748;2021-01-01;;;;;\n"
    )
    applicant, partner, alone = read_export(layout, io.BytesIO(data))
    assert (applicant.line, partner.line, alone.line) == (2, 2, 3)
    assert partner.bsn == "999998535" and partner.sex == "male"
    assert partner.birth_date == date(1981, 2, 3) and partner.local_reason == "ARB"
    assert applicant.unit_key == partner.unit_key == "999998523"  # pseudonymised later
    assert alone.unit_key == alone.bsn and alone.is_valid  # a unit of one, until a partner


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('format = "csv"', 'format = "json"'), 'format must be "csv" or "xml"'),
        (('bsn = "bsn"\n', ""), "[fields] lacks bsn"),
        (('format = "jjjj-mm-dd"', 'format = "mm/dd/yy"'), "dates.format must be one of"),
        (('female = ["v"]', 'female = ["m"]'), "is given for both sexes"),
        (('[partner]\nbsn = "bsn_partner"\n', "[partner]\n"), "needs a CSV layout with a"),
        (('sex = "geslacht"\n', 'sex = "geslacht"\nshoe_size = "maat"\n'),
         "fields.shoe_size is not a field the platform knows"),
    ],
)  # fmt: skip
def test_a_wrong_layout_names_the_key_to_change(change: tuple[str, str], message: str) -> None:
    with pytest.raises(SiteFileError, match=message.replace("[", r"\[")):
        ExportLayout.from_toml(CSV_WITH_PARTNER.replace(*change, 1))


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        ("export.toml", ('format = "csv"', 'format = "pdf"'), 'export.toml: format must be'),
        ("site.toml", (f'api_version = "{PLUGIN_API_VERSION}"', 'api_version = "1.0"'),
         "for plugin interface 1.0"),
        ("site.toml", ('members = ["GM0513"]', 'members = ["0513"]'), "municipality code '0513'"),
        ("mapping.csv", (";map;11;", ";maybe;11;"), "action must be 'map' or 'reject'"),
        ("mapping.csv", (";map;11;", ";map;42;"), "maps to unknown shared code '42'"),
    ],
)  # fmt: skip
def test_a_broken_site_folder_stops_start_up_naming_site_and_file(
    tmp_path: Path, file: str, change: tuple[str, str], message: str
) -> None:
    from fiptrial.plugins.declarative.scaffold import new_site
    from fiptrial.plugins.manager import SitePluginError, build_plugin_host

    folder = new_site("gouda", tmp_path, layout="csv", members=("GM0513",))
    path = folder / file
    text = path.read_text("utf-8")
    assert change[0] in text
    path.write_text(text.replace(*change), "utf-8")
    with pytest.raises(SitePluginError) as caught:
        build_plugin_host(entry_points=False, site_dirs=[tmp_path])
    assert "gouda" in caught.value.problems
    assert message in str(caught.value)


def test_a_person_the_importer_does_not_want_is_read_no_further_than_the_bsn() -> None:
    from fiptrial.plugins.rows import SKIPPED

    rows = list(
        read_export(bus(), io.BytesIO(DELIVERY.encode("utf-8")), lambda bsn: bsn == "999998523")
    )
    wanted, partner, invalid = rows
    assert wanted.bsn == "999998523" and wanted.is_valid
    assert partner is SKIPPED  # 052856562: valid, not wanted
    assert invalid.bsn is None and invalid.errors  # an invalid BSN is read in full
