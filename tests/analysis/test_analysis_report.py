"""build_report: the pilot from Table 4.1, a Simpson-like multi-site trial, input checks."""

import json
from datetime import date, timedelta

import numpy as np
import pytest

from fiptrial_analysis import (
    build_report,
    mantel_haenszel,
    pilot_participants,
    read_participants,
    read_table_4_1,
    render_html,
)
from fiptrial_analysis.cli import main
from fiptrial_analysis.pilot import write_csv

EXIT_CODES = ("11", "02", "19", "13", "31", "32", "98")


@pytest.fixture(scope="module")
def pilot_report():
    return build_report(pilot_participants())


def test_pilot_report_reproduces_chi_square_and_net_ratios(pilot_report):
    """The pilot report's figures from Table 4.1 (shared/domain/README.md): chi-square 3.5733,
    p = 0.0587, net ratios 20.2% (62/307) and 15.8% (252/1593)."""
    report = pilot_report
    assert report["primary"] == "chi_square"
    assert round(report["chi_square"]["statistic"], 4) == 3.5733
    assert round(report["chi_square"]["pvalue"], 4) == 0.0587
    assert report["chi_square"]["correction"] is False
    assert report["chi_square"]["table"] == [[62, 245], [252, 1341]]
    fip, control = report["arms"]["fip"], report["arms"]["control"]
    assert (fip["net_exits"], fip["net_n"]) == (62, 307)
    assert (control["net_exits"], control["net_n"]) == (252, 1593)
    assert round(100 * fip["net_ratio"], 1) == 20.2
    assert round(100 * control["net_ratio"], 1) == 15.8
    # The report's 17.5% for control is the gross ratio 284 / 1625.
    assert (control["exits"], control["n"]) == (284, 1625)
    assert round(100 * control["gross_ratio"], 1) == 17.5
    assert "mantel_haenszel" not in report


def test_pilot_exits_by_code_are_table_4_1(pilot_report):
    table = read_table_4_1()
    by_code = {row["code"]: row for row in pilot_report["exits_by_code"]}
    for arm in ("fip", "control"):
        for code, count in table[arm].items():
            if code:
                assert by_code[code][arm] == count, (arm, code)
        assert sum(row[arm] for row in by_code.values()) == pilot_report["arms"][arm]["exits"]
    assert by_code["03"]["excluded_from_net_ratio"] is True


def test_pilot_costs_follow_the_stated_definition(pilot_report):
    rd = 62 / 307 - 252 / 1593
    costs = pilot_report["costs"]
    assert costs["extra_exits"] == pytest.approx(rd * 307)
    assert costs["savings_if_each_extra_exit_saves_a_year"] == pytest.approx(rd * 307 * 14000)
    assert costs["savings"] == pytest.approx(costs["benefit_years_saved"] * 14000)
    cheaper = build_report(pilot_participants(), cost_per_benefit_year=16883)
    assert cheaper["costs"]["savings"] == pytest.approx(costs["benefit_years_saved"] * 16883)


def test_report_is_strict_json(pilot_report):
    text = json.dumps(pilot_report, allow_nan=False)
    assert json.loads(text)["arms"]["fip"]["n"] == 308
    assert set(pilot_report["definitions"]) >= {
        "net_ratio", "chi_square", "risk_difference", "mantel_haenszel", "costs", "survival",
    }  # fmt: skip


def _trial(sites):
    """Participants with exact counts per site and arm.

    ``sites`` holds (site, n_fip, net_exits_fip, n_control, net_exits_control); every arm also
    gets one pension-age exit, and sex alternates so that the baseline table has two levels.
    """
    columns = {name: [] for name in (
        "participant", "site", "arm", "allocated_on", "followup_end", "exit_date", "exit_code",
        "sex",
    )}  # fmt: skip
    start = date(2025, 1, 6)
    for site, n_fip, exits_fip, n_control, exits_control in sites:
        for arm, n, exits in (("fip", n_fip, exits_fip), ("control", n_control, exits_control)):
            for i in range(n):
                allocated = start + timedelta(days=i % 30)
                end = allocated + timedelta(days=365)
                if i < exits:
                    code = EXIT_CODES[i % len(EXIT_CODES)]
                    exit_date = (allocated + timedelta(days=1 + (i * 37) % 360)).isoformat()
                elif i == exits:
                    code, exit_date = "03", (allocated + timedelta(days=200)).isoformat()
                else:
                    code, exit_date = "", ""
                columns["participant"].append(f"{site}-{arm}-{i}")
                columns["site"].append(site)
                columns["arm"].append(arm)
                columns["allocated_on"].append(allocated.isoformat())
                columns["followup_end"].append(end.isoformat())
                columns["exit_date"].append(exit_date)
                columns["exit_code"].append(code)
                columns["sex"].append("1" if i % 2 else "2")
    return columns


# Rich site with a high exit rate randomised 1:4, poor site with a low rate randomised 4:1,
# and a 1:1 site. Within every site FIP does better; pooled, FIP looks worse.
SIMPSON_SITES = [
    ("Noord", 101, 45, 401, 160),
    ("Zuid", 401, 52, 101, 10),
    ("Oost", 151, 30, 151, 25),
]


@pytest.fixture(scope="module")
def simpson():
    return build_report(_trial(SIMPSON_SITES))


def test_simpson_trial_marks_the_stratified_result_primary(simpson):
    naive = simpson["risk_difference"]["estimate"]
    stratified = simpson["mantel_haenszel"]["risk_difference"]
    assert naive < -0.05
    assert stratified > 0.02
    assert simpson["primary"] == "mantel_haenszel"
    assert simpson["naive_vs_stratified"]["same_direction"] is False
    assert simpson["mantel_haenszel"]["odds_ratio"] > 1 > simpson["odds_ratio"]["estimate"]
    for site in simpson["sites"]:
        assert site["risk_difference"]["estimate"] > 0


def test_simpson_trial_site_tables_feed_mantel_haenszel(simpson):
    # One participant per arm reached pension age and is left out of the net tables.
    tables = [
        [[e_f, n_f - 1 - e_f], [e_c, n_c - 1 - e_c]] for _, n_f, e_f, n_c, e_c in SIMPSON_SITES
    ]
    expected = mantel_haenszel(np.array(tables, dtype=float)[[1, 2, 0]])  # sites sorted by name
    assert simpson["mantel_haenszel"]["statistic"] == pytest.approx(expected.statistic)
    assert simpson["mantel_haenszel"]["risk_difference"] == pytest.approx(expected.risk_difference)
    assert simpson["arms"]["fip"]["pension_age_exits"] == 3
    assert [s["site"] for s in simpson["sites"]] == ["Noord", "Oost", "Zuid"]
    assert simpson["breslow_day"]["dof"] == 2
    assert simpson["random_effects"]["k"] == 3
    assert simpson["survival"]["log_rank"]["stratified_by"] == "site"


def test_simpson_trial_html_says_which_result_is_primary(simpson):
    page = render_html(simpson)
    assert page.startswith("<!DOCTYPE html>")
    assert "Primary result (stratified by site, Mantel-Haenszel)" in page
    assert "opposite directions" in page
    assert page.count("data:image/png;base64,") == 5
    assert "http://" not in page and "https://" not in page


def test_baseline_standardised_difference():
    """Sex alternates, so with 101 and 401 participants the shares are 50/101 and 200/401."""
    report = build_report(_trial([("A", 101, 10, 401, 40)]))
    (sex,) = report["baseline"]
    level = next(row for row in sex["levels"] if row["level"] == "1")
    p1, p2 = 50 / 101, 200 / 401
    expected = (p1 - p2) / np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    assert level["standardised_difference"] == pytest.approx(expected)


def test_rows_and_columns_give_the_same_report():
    columns = _trial([("A", 20, 5, 30, 6), ("B", 25, 4, 15, 3)])
    rows = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    assert build_report(rows) == build_report(columns)


def _small():
    return {
        "participant": ["p1", "p2", "p3", "p4"],
        "site": ["A", "A", "A", "A"],
        "arm": ["fip", "fip", "control", "control"],
        "allocated_on": ["2025-01-01"] * 4,
        "followup_end": ["2025-12-31"] * 4,
        "exit_date": ["2025-03-01", "", "2025-04-01", ""],
        "exit_code": ["11", "", "3", ""],
    }


def test_single_digit_codes_get_their_leading_zero():
    report = build_report(_small())
    assert report["arms"]["control"]["pension_age_exits"] == 1


def test_exit_after_followup_is_not_counted():
    data = _small()
    data["exit_date"][0] = "2026-02-01"
    report = build_report(data)
    assert report["arms"]["fip"]["exits"] == 0
    assert report["data_quality"]["exits_after_followup_not_counted"] == 1
    assert report["chi_square"]["statistic"] is None  # no net exit left: the test is undefined
    assert "at least one count" in report["chi_square"]["note"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("site"), "required column"),
        (lambda d: d["exit_code"].__setitem__(0, "20"), r"\['20'\].*not current BUS"),
        (lambda d: d["exit_code"].__setitem__(0, ""), "both filled or both empty"),
        (lambda d: d["arm"].__setitem__(0, "treatment"), "'fip' or 'control'"),
        (lambda d: d["participant"].__setitem__(1, "p1"), "more than once"),
        (lambda d: d["allocated_on"].__setitem__(2, "01-01-2025"), "row 3.*not a date"),
        (lambda d: d["exit_date"].__setitem__(0, "2024-01-01"), "before allocated_on"),
        (lambda d: d["arm"].__setitem__(2, "fip") or d["arm"].__setitem__(3, "fip"), "both arms"),
        (lambda d: d["site"].append("B"), "differ in length"),
    ],
)
def test_report_rejects_bad_participant_data(change, message):
    data = _small()
    change(data)
    with pytest.raises(ValueError, match=message):
        build_report(data)


def test_consort_sidecar_overrides_and_is_checked():
    report = build_report(_small(), consort={"assessed": 10, "arms": {"fip": {"allocated": 3}}})
    assert report["consort"]["assessed"] == 10
    assert report["consort"]["eligible"] is None
    assert report["consort"]["arms"]["fip"]["allocated"] == 3
    assert report["consort"]["arms"]["control"]["analysed"] == 2
    with pytest.raises(ValueError, match="unknown CONSORT keys"):
        build_report(_small(), consort={"screened": 10})
    with pytest.raises(ValueError, match="non-negative whole number"):
        build_report(_small(), consort={"assessed": -1})


def test_consort_counts_from_optional_columns():
    data = _small()
    data["conversations_held"] = ["4", "0", "", ""]
    data["consent_status"] = ["given", "withdrawn", "given", "given"]
    report = build_report(data)
    assert report["consort"]["arms"]["fip"]["received_allocated"] == 1
    assert report["consort"]["arms"]["fip"]["lost_to_follow_up"] == 1
    assert report["process"]["fip"]["mean_conversations_held"] == 2.0


def test_cli_writes_json_and_html(tmp_path, capsys):
    source = tmp_path / "pilot.csv"
    with open(source, "w", encoding="utf-8") as handle:
        write_csv(pilot_participants(), handle)
    out = tmp_path / "report.html"
    assert main(["report", str(source), "--json", "--html", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert round(report["chi_square"]["statistic"], 4) == 3.5733
    assert "Pearson" in out.read_text(encoding="utf-8")


def test_cli_reports_bad_input_without_a_traceback(tmp_path, capsys):
    source = tmp_path / "bad.csv"
    source.write_text("participant;site;arm\np1;A;fip\n", encoding="utf-8")
    assert main(["report", str(source), "--json"]) == 2
    assert "required column" in capsys.readouterr().err


def test_csv_reader_takes_semicolons_bom_and_quotes(tmp_path):
    """Dutch exports: ';' as delimiter, UTF-8 with BOM; values are stripped."""
    source = tmp_path / "export.csv"
    source.write_text(
        "\ufeffParticipant;Site;Arm;Allocated_on;Followup_end;Exit_date;Exit_code\n"
        'p1;"Bergen op Zoom; centrum";FIP ;2025-01-01;2025-12-31;2025-06-01;11\n'
        "p2;Bergen op Zoom; centrum;control;2025-01-01;2025-12-31;;\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="line 3 has 8 fields"):
        read_participants(source)
    source.write_text(
        "\ufeffParticipant;Site;Arm;Allocated_on;Followup_end;Exit_date;Exit_code\n"
        'p1;"Bergen op Zoom; centrum";FIP ;2025-01-01;2025-12-31;2025-06-01;11\n'
        'p2;"Bergen op Zoom; centrum";control;2025-01-01;2025-12-31;;\n',
        encoding="utf-8",
    )
    columns = read_participants(source)
    assert list(columns["site"]) == ["Bergen op Zoom; centrum"] * 2
    report = build_report(columns)
    assert report["arms"]["fip"]["exits"] == 1
    assert report["sites"][0]["site"] == "Bergen op Zoom; centrum"


def test_pilot_table_has_the_report_totals():
    table = read_table_4_1()
    assert sum(table["fip"].values()) == 308
    assert sum(table["control"].values()) == 1625
    columns = pilot_participants()
    assert len(columns["participant"]) == 308 + 1625
    assert columns["exit_code"].count("03") == 1 + 32
