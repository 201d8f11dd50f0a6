"""report.html as a fresh reader (a musicologist) reads it: one shortest copy everywhere, the granularity
figure kept apart from the headline, beats, bars and passage numbers the same on the page and in the
files, and each passage view drawn as its card says."""

from __future__ import annotations

import csv
import io
import re

import pytest
from rich.console import Console

from tests.page_report import page_report
from tests.test_report_page import Page


@pytest.fixture(scope="module")
def analysis():
    return page_report()


@pytest.fixture(scope="module")
def page(analysis):
    report, _ = analysis
    text = report.html()
    return text, Page(text)


def _terminal(report) -> str:
    out = io.StringIO()
    report.print_summary(Console(file=out, width=200, color_system=None))
    return out.getvalue()


def test_one_shortest_copy_everywhere(page, analysis):
    report, _ = analysis
    text, dom = page
    p = report.params
    fewest = p["min_copy_notes"]
    # The true number: a passage one note shorter than the match that found it exists under
    # transposed+tempo (its last note's pitch is free), and none is shorter still.
    assert p["invariance"] == "transposed+tempo" and fewest == p["min_match_notes"] - 1
    assert min(x.n_notes for x in report.passage_records) >= fewest
    plain = re.sub(r"<[^>]+>", "", text)
    # Every sentence that gives the shortest copy a number gives this one.
    claims = re.findall(r"shortest copy\D{0,12}(\d+) notes", plain)
    assert claims and set(claims) == {str(fewest)}, claims
    assert f"passages shorter than {fewest} notes are never counted" in plain
    assert not re.search(r"shortest match counted\D{0,30}\d+ notes", plain)
    settings = {
        r[0]["text"]: r for r in next(t for t in dom.tables if t["rows"][0][0]["text"] == "setting")["rows"]
    }
    assert settings["min_copy_notes"][1]["text"] == str(fewest)
    assert "shortest match counted" not in settings["min_match_notes"][2]["text"]
    assert f"at least {fewest} consecutive notes" in plain
    assert f"copies >= {fewest} notes" in _terminal(report)
