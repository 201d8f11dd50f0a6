"""report.html as a fresh reader (a musicologist) reads it: one shortest copy everywhere, the granularity
figure kept apart from the headline, beats, bars and passage numbers the same on the page and in the
files, and each passage view drawn as its card says."""

from __future__ import annotations

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


def test_the_granularity_share_is_not_read_against_the_headline(page, analysis):
    report, _ = analysis
    text, dom = page
    # The first screen says in one sentence how long the stretches shared with the reference are,
    # computed from the pieces' longest exact matches.
    first = text[text.index("<section id='overview'>") : text.index("<h3 id='rule'>")]
    query, control = report.compared_records("query"), report.compared_records("control")
    q = max(r.longest_match_notes for r in query)
    c = max(r.longest_match_notes for r in control)
    assert q > 0 and c > 0
    assert f"The query pieces share no stretch longer than {q} notes" in first
    assert f"the human control pieces share stretches of up to {c} notes" in first
    copied = [x for x in report.passage_records if x.label == "copied" and x.group == "query"]
    assert q >= max(x.n_notes for x in copied)  # a copy is one of the exact matches
    # Its stretches are counted in the piece's bars.
    patchwork = next(r for r in query if r.piece == "patchwork1.mid")
    assert 2 <= patchwork.longest_match_bars <= 8
    # The granularity share is never called a recombined share (page, terminal).
    if report.granularity is not None:
        assert "recombined share" not in text and "recombined share" not in _terminal(report)
        assert "not the copied share" in _terminal(report)
        section = text[text.index("How long the shared stretches are") :]
        assert "cannot be compared with it" in section
        # Plain words first, the technical terms after.
        for jargon in ("patchwork scale", "granularity_share"):
            at = section.index(jargon)
            assert section.index("of their notes lie in a stretch of a bar or more") < at
        assert "beyond the piece's own shuffles" not in text
