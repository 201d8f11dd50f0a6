"""report.html and experiment.html in a real browser (slow): headless Chromium loads each page from disk
with no console error and no request outside it, draws the remix maps and passage views, plays, sorts,
and saves a screenshot (kept in ``$REMIX_SCREENSHOTS`` when set, else in the test's temporary folder).

Chromium is Debian's package; ``scripts/install-test-browser.sh`` installs it (run here when it is
missing and the tests run as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.browser import Browser, find_chromium
from tests.page_report import page_report

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None and os.geteuid() == 0:
        subprocess.run([str(ROOT / "scripts" / "install-test-browser.sh")], check=False)
        found = find_chromium()
    if found is None:
        pytest.skip("no Chromium: run scripts/install-test-browser.sh as root")
    return found


def keep(shot: Path) -> Path:
    """The screenshot, copied to ``$REMIX_SCREENSHOTS`` when set."""
    folder = os.environ.get("REMIX_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / shot.name)
    return shot


def local_only(requests: list[str]) -> list[str]:
    return [url for url in requests if not url.startswith(("file://", "data:", "about:"))]


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    """The real analysis of tests/page_report.py, saved: (report, folder)."""
    report, _ = page_report()
    folder = tmp_path_factory.mktemp("analysis")
    report.save(folder)
    return report, folder


def test_report_html_loads_draws_plays_and_sorts_without_errors(chromium, analysis, tmp_path):
    report, folder = analysis
    n_query = len(report.query_records())
    with Browser(chromium) as browser:
        browser.open(folder / "report.html")
        assert browser.errors == []
        assert local_only(browser.requests) == []
        # Canvases are drawn when they come near the screen: scrolled past, every remix map and passage view
        # drew its notes, and the first map, far above, gave its pixels back until it comes near again.
        walk = """(async () => {
            for (const c of document.querySelectorAll('canvas.remix-map, canvas.pair-roll')) {
                c.scrollIntoView(); await new Promise(r => requestAnimationFrame(() => setTimeout(r, 20)));
            }
            return [[...document.querySelectorAll('canvas.remix-map')].map(c => Number(c.getAttribute('data-drawn'))),
                    document.querySelectorAll('canvas.pair-roll[data-drawn]').length,
                    document.querySelector('#map-0').width]; })()"""
        drawn, drawn_pairs, first_width = browser.evaluate(walk)
        # The query pieces, then the human control pieces that copy, each with its map and passages.
        records = {r.piece: r for r in report.piece_records}
        mapped = [r.piece for r in report.query_records()] + list(report.control_note_maps)
        assert drawn == [records[name].n_notes for name in mapped] and len(mapped) > n_query
        pairs = browser.evaluate("document.querySelectorAll('.pair').length")
        shown = [p for p in report.passage_records if p.piece in mapped]
        assert pairs == drawn_pairs == len(shown) > 0
        assert first_width == 0
        browser.evaluate("document.querySelector('#map-0').scrollIntoView()")
        browser.evaluate(
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
        )
        assert browser.evaluate("document.querySelector('#map-0').width") > 0
        assert browser.evaluate("document.querySelectorAll('.player button.play').length") == len(mapped)
        browser.evaluate("window.dispatchEvent(new Event('beforeprint'))")  # every canvas drawn, as for print
        browser.evaluate("window.scrollTo(0, 0)")
        keep(browser.screenshot(tmp_path / "report.png"))
        browser.evaluate("window.dispatchEvent(new Event('afterprint'))")
        # Play the first patchwork: the cursor moves and the caption names the passage and its source.
        browser.evaluate("document.querySelector('#piece-0 .player .play').click()")
        browser.pump(2.0)
        cursor = float(browser.evaluate("document.querySelector('#map-0').getAttribute('data-cursor')"))
        caption = browser.evaluate("document.querySelector('#piece-0 .now').textContent")
        assert cursor > 0.5 and caption.startswith("bar ") and " from S" in caption
        assert (
            browser.evaluate("document.querySelector('#piece-0 .player').getAttribute('data-state')")
            == "playing"
        )
        browser.evaluate("document.querySelector('#piece-0 .player .stop').click()")
        browser.pump(0.3)
        assert (
            browser.evaluate("document.querySelector('#piece-0 .player').getAttribute('data-state')") is None
        )
        # A passage beside its source plays both, one after the other; a passage row plays its bars.
        browser.evaluate("document.querySelector('.pair .play-both').click()")
        browser.pump(0.8)
        browser.evaluate("document.querySelector('button.seek').click()")
        browser.pump(0.5)
        # Sorting the per-piece table by its copied share, twice: ascending then descending.
        order = """(() => { const t = document.querySelector('#piece-summary');
            const th = [...t.tHead.rows[0].cells].find(c => c.textContent.trim() === 'copied');
            th.click(); const up = [...t.tBodies[0].rows].map(r => r.cells[0].textContent);
            th.click(); const down = [...t.tBodies[0].rows].map(r => r.cells[0].textContent);
            return [up, down]; })()"""
        up, down = browser.evaluate(order)
        shares = {r.piece: r.copied_fraction for r in report.query_records()}
        # (pieces of equal shares keep their order both ways, so "down" is not "up" reversed)
        assert [shares[p] for p in up] == sorted(shares.values())
        assert [shares[p] for p in down] == sorted(shares.values(), reverse=True) and sorted(down) == sorted(up)
        # Following a passage's link lands on its source passage view.
        browser.evaluate("document.querySelector('a.to-source').click()")
        browser.pump(0.3)
        assert browser.evaluate("document.querySelector(':target').classList.contains('pair')")
        keep(browser.screenshot(tmp_path / "report-passage.png", full_page=False))
        assert browser.errors == []
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_first_screen_shows_what_was_compared_the_headline_and_the_verdict(chromium, analysis, tmp_path):
    report, folder = analysis
    with Browser(chromium, width=1300, height=900) as browser:
        browser.open(folder / "report.html")
        keep(browser.screenshot(tmp_path / "report-first-screen.png", full_page=False))
        bottoms = browser.evaluate(
            """(() => { const o = document.querySelector('#overview');
                const q = s => o.querySelector(s).getBoundingClientRect().bottom;
                return [q('p.lead'), q('table.headline'), q('p.verdict'), window.innerHeight]; })()"""
        )
        *seen, height = bottoms
        assert height == 900 and all(0 < b <= height for b in seen), bottoms
        lead = browser.evaluate("document.querySelector('#overview p.lead').innerText")
        assert f"{len(report.query_records())} query pieces" in lead and "284 reference pieces" in lead
        assert "human pieces" in lead
        headline = browser.evaluate("document.querySelector('#overview table.headline').innerText")
        assert "95% interval" in headline


def test_a_passage_view_numbers_its_bars_and_plays_all_voices_of_its_source(chromium, analysis, tmp_path):
    import json

    report, folder = analysis
    query = [r.piece for r in report.query_records()]
    p = next(p for p in report.passage_records if p.group == "query" and p.source_texture)
    box = f"#pass-{query.index(p.piece)}-{p.passage}"
    with Browser(chromium, width=1300, height=900) as browser:
        browser.open(folder / "report.html")
        browser.evaluate(f"document.querySelector('{box}').scrollIntoView()")
        browser.pump(0.5)
        data = json.loads(browser.evaluate(f"document.querySelector('{box} .pair-data').textContent"))
        # Bar numbers on both rows: the query's bars and the source's, as the passage names them.
        bars = json.loads(
            browser.evaluate(f"document.querySelector('{box} canvas').getAttribute('data-bars')")
        )
        q_first, q_last = (int(b) for b in p.bars.split("-"))
        s_first, s_last = (int(b) for b in p.source_bars.split(";")[0].split("-"))
        # (A bar begun a beat before the passage may give its number's place to the next one.)
        for drawn_bars, first, last in ((bars[0], q_first, q_last), (bars[1], s_first, s_last)):
            assert drawn_bars == sorted(drawn_bars) and set(drawn_bars) <= set(range(first, last + 1))
            assert drawn_bars[0] in (first, first + 1) and drawn_bars[-1] == last
        drawn = int(browser.evaluate(f"document.querySelector('{box} canvas').getAttribute('data-drawn')"))
        assert drawn == len(data["q"]) + len(data["s"])
        # The matched line alone, then with all voices of those bars.
        browser.evaluate(f"document.querySelector('{box} .play-s').click()")
        browser.pump(0.3)
        assert int(browser.evaluate(f"document.querySelector('{box}').getAttribute('data-events')")) == len(
            data["s"]
        )
        browser.evaluate(f"document.querySelector('{box} input.all-voices').click()")
        browser.pump(0.3)
        browser.evaluate(f"document.querySelector('{box} .play-s').click()")
        browser.pump(0.3)
        events = int(browser.evaluate(f"document.querySelector('{box}').getAttribute('data-events')"))
        assert events == len(data["s"]) + len(data["st"]) > len(data["s"])
        drawn = int(browser.evaluate(f"document.querySelector('{box} canvas').getAttribute('data-drawn')"))
        assert drawn == len(data["q"]) + len(data["s"]) + len(data["qt"]) + len(data["st"])
        keep(browser.screenshot(tmp_path / "report-pair-all-voices.png", full_page=False))
        browser.evaluate("document.querySelector('#piece-0 .player .stop').click()")
        assert browser.errors == []


def test_every_table_fits_a_1300_pixel_window_or_says_it_scrolls(chromium, analysis, tmp_path):
    _report, folder = analysis
    with Browser(chromium, width=1300, height=900) as browser:
        browser.open(folder / "report.html")
        browser.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        browser.pump(0.3)
        page = browser.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert page[0] <= page[1] <= 1300  # the page itself never scrolls sideways
        tables = browser.evaluate(
            """[...document.querySelectorAll('table')].map(t => {
                const box = t.closest('div.scroll'), cue = box && box.previousElementSibling;
                return {id: t.id || t.closest('section').id, width: t.scrollWidth,
                        box: box ? box.clientWidth : t.parentElement.clientWidth,
                        right: (box || t).getBoundingClientRect().right,
                        cue: !!(box && box.classList.contains('wide') && cue && cue.classList.contains('scroll-cue')
                                && cue.getBoundingClientRect().height > 0 && /scroll it sideways/.test(cue.textContent))};
            })"""
        )
        assert len(tables) > 5
        for t in tables:
            assert t["right"] <= 1300, t
            assert t["width"] <= t["box"] or t["cue"], t
        # The tables a reader works with fit without scrolling: per piece, passages, statistics, settings.
        fit = [t for t in tables if t["id"] != "tables"]
        assert all(t["width"] <= t["box"] for t in fit), [t for t in fit if t["width"] > t["box"]]
        assert any(t["cue"] for t in tables)  # the motifs table, 27 columns: scrolls, and says so
        browser.evaluate("document.querySelector('#piece-summary').scrollIntoView()")
        keep(browser.screenshot(tmp_path / "report-tables.png", full_page=False))
        assert browser.errors == []


@pytest.fixture(scope="module")
def experiment_folder(tmp_path_factory) -> Path:
    """A tiny experiment, with the settings its own end-to-end test uses."""
    from remixmusic.experiment.config import ExperimentConfig
    from remixmusic.experiment.run import run_experiment
    from tests.test_experiment import TINY

    out = tmp_path_factory.mktemp("experiment")
    run_experiment(ExperimentConfig(**TINY), out, jobs=1, show_progress=False, log=lambda line: None)
    return out


def test_experiment_html_and_its_reports_load_without_errors(chromium, experiment_folder, tmp_path):
    pages = [experiment_folder / "experiment.html", *sorted(experiment_folder.rglob("report.html"))[:1]]
    with Browser(chromium) as browser:
        for k, page in enumerate(pages):
            browser.open(page)
            assert browser.errors == [], page
            assert local_only(browser.requests) == [], page
            assert browser.evaluate("document.body.innerText.length") > 200
            if page.name == "report.html":  # maps are drawn near the screen, all of them for print
                browser.evaluate("window.dispatchEvent(new Event('beforeprint'))")
                maps = browser.evaluate("document.querySelectorAll('canvas.remix-map[data-drawn]').length")
                players = browser.evaluate("document.querySelectorAll('.player button.play').length")
                assert maps == players > 0
            keep(browser.screenshot(tmp_path / f"{page.stem}-{k}.png"))


def test_a_200000_note_piece_loads_quickly_with_its_first_notes_playable(chromium, tmp_path):
    from remixmusic.novelty.page import PLAYER_NOTE_LIMIT
    from tests.test_report_large import large_report

    page = tmp_path / "report.html"
    page.write_text(large_report(200_000, 30_000, n_pieces=2_000).html())
    with Browser(chromium) as browser:
        started = time.monotonic()
        browser.open(page, settle=0)
        browser.evaluate("document.querySelector('#map-0').scrollIntoView()")
        browser.evaluate(
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
        )
        assert time.monotonic() - started < 15
        assert browser.evaluate("document.querySelector('#map-0').getAttribute('data-drawn')") == str(
            PLAYER_NOTE_LIMIT
        )
        assert browser.evaluate("document.querySelector('#map-0').width") <= 8000
        browser.evaluate("document.querySelector('#piece-0 .player .play').click()")
        browser.pump(1.0)
        assert float(browser.evaluate("document.querySelector('#map-0').getAttribute('data-cursor')")) > 0
        assert browser.errors == [] and local_only(browser.requests) == []
        keep(browser.screenshot(tmp_path / "report-large.png", full_page=False))
