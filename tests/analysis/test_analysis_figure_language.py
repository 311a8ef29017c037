"""Every figure of the report in the chosen language: each text a figure draws (titles, axes,
ticks, legends, CONSORT boxes, reason labels) is read back from the figure and checked against
the other language's words, raw codes and the other language's decimal sign."""

from __future__ import annotations

import re
from typing import Any

import matplotlib.text
import pytest
import synthetic_trial

from fiptrial_analysis import build_report
from fiptrial_analysis.html import FIGURES, render_html

# Words the figures wrote in English before they spoke Dutch (whole words, any case).
ENGLISH = [
    "exit",
    "exits",
    "exited",
    "days",
    "since",
    "allocation",
    "allocated",
    "proportion",
    "still",
    "benefit",
    "cumulative",
    "incidence",
    "control",
    "usual",
    "care",
    "site",
    "sites",
    "randomised",
    "assessed",
    "eligibility",
    "eligible",
    "received",
    "lost",
    "analysed",
    "intention",
    "treat",
    "flow",
    "participants",
    "participant",
    "favours",
    "scale",
    "share",
    "arm",
    "without",
    "sustained",
    "first",
    "reason",
    "class",
    "primary",
    "competing",
    "administrative",
    "risk",
    "difference",
    "against",
    "shrunken",
    "stratified",
    "recorded",
    "pooled",
    "all",
    "estimates",
    "largest",
    "interval",
    "axis",
    "the",
    "and",
    "by",
    "with",
    "not",
    "yet",
    "no",
    "to",
    "from",
    "work",
    "other",
]
# Dutch words the figures write, which the English figures must not.
DUTCH = [
    "uitstroom",
    "dagen",
    "sinds",
    "loting",
    "deelnemers",
    "deelnemer",
    "locatie",
    "locaties",
    "controle",
    "gebruikelijke",
    "zorg",
    "uitkering",
    "nog",
    "geen",
    "van",
    "het",
    "de",
    "een",
    "naar",
    "werk",
    "andere",
    "groep",
    "aandeel",
    "zonder",
    "duurzame",
    "eerste",
    "reden",
    "klasse",
    "primair",
    "concurrerend",
    "administratief",
    "risico",
    "verschil",
    "samengenomen",
    "geloot",
    "geanalyseerd",
    "toegewezen",
    "beoordeeld",
    "geschikt",
]
# A word both languages write ("per", Dutch "of" = or, "FIP", "BUS") is in neither list.
RAW = ("label_en", "label_nl", "_share", "%(", "{", "None", "nan", "administrative", "competing")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """A trial with exits in both arms at several sites, and the spells for the plan's figures."""
    draws = synthetic_trial.draw(1500, 5, seed=20261203)
    columns, spells = synthetic_trial.build(draws, draws.fip, 1.3)
    built = build_report(columns, spells=spells)
    assert len(built["sites"]) >= 3
    assert all(sum(r[arm] for r in built["exits_by_code"]) for arm in ("fip", "control"))
    return built


def texts(figure: Any) -> list[str]:
    """Every text the figure draws, once it is laid out (tick labels exist after a draw)."""
    figure.canvas.draw()
    found = [t.get_text() for t in figure.findobj(matplotlib.text.Text)]
    for ax in figure.axes:
        found += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    return [t for t in found if t.strip()]


def offending(found: list[str], words: list[str]) -> list[str]:
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)
    return [t for t in found if pattern.search(t)]


@pytest.mark.parametrize("name", list(FIGURES))
def test_each_figure_in_dutch_has_no_english_word(report: dict[str, Any], name: str) -> None:
    found = texts(FIGURES[name](report, "nl"))
    assert found
    assert offending(found, ENGLISH) == []
    assert [t for t in found if any(code in t for code in RAW)] == []
    assert [t for t in found if re.search(r"\b\d+\.\d{1,2}\b|\b0\.\d", t)] == []  # 0,5 not 0.5


@pytest.mark.parametrize("name", list(FIGURES))
def test_each_figure_in_english_has_no_dutch_word(report: dict[str, Any], name: str) -> None:
    found = texts(FIGURES[name](report, "en"))
    assert found
    assert offending(found, DUTCH) == []
    assert [t for t in found if any(code in t for code in RAW[:7])] == []
    assert [t for t in found if re.search(r"\b0,\d", t)] == []  # 0.5 not 0,5


def test_every_figure_in_dutch_says_what_it_shows_in_dutch(report: dict[str, Any]) -> None:
    titles = {name: FIGURES[name](report, "nl").axes[0].get_title() for name in FIGURES}
    assert titles["consort"] == "CONSORT-stroomdiagram van de deelnemers"
    assert titles["exits"].startswith("Uitstroom per reden")
    legend = texts(FIGURES["survival"](report, "nl"))
    assert any(t.startswith("Controle (gebruikelijke zorg) (n = ") for t in legend)


def test_the_forest_plot_names_the_sites(report: dict[str, Any]) -> None:
    names = {site["site"]: f"Gemeente {i}" for i, site in enumerate(report["sites"])}
    (ax,) = FIGURES["forest"](report, "nl", site_names=names).axes
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert "Gemeente 0" in labels and not set(names) & set(labels)


def test_the_self_contained_report_shows_its_language_s_figures(report: dict[str, Any]) -> None:
    dutch, english = render_html(report, "nl"), render_html(report, "en")
    assert 'alt="Uitstroom per reden (BUS-kenmerk 34) en groep"' in dutch
    assert 'alt="Exits by reason (BUS kenmerk 34) and arm"' in english
    sites = report["trial"]["sites"]
    assert f"1.500 deelnemers op {sites} locaties" in dutch and "chi-square" not in dutch
    assert f"1,500 participants at {sites} sites" in english


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_empty_figures_say_why_in_the_language(language: str) -> None:
    columns = {
        "participant": [f"p{i}" for i in range(8)],
        "site": ["Noord"] * 4 + ["Zuid"] * 4,
        "arm": ["fip", "control"] * 4,
        "allocated_on": ["2026-11-20"] * 8,
        "followup_end": ["2026-11-20"] * 8,
        "exit_date": [""] * 8,
        "exit_code": [""] * 8,
    }
    empty = build_report(columns)
    other = DUTCH if language == "en" else ENGLISH
    for name in ("exits", "forest", "survival", "incidence"):
        found = texts(FIGURES[name](empty, language))
        assert offending(found, other) == [], name
