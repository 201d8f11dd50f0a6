"""report.html read as a reader would: first screen, per-piece summary, links from each passage to its source
passage, player data, colours, and nothing loaded from outside the page."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest

from remixmusic.music.notes import STEPS_PER_BEAT
from remixmusic.novelty.page.music import parse_source_notes
from remixmusic.novelty.passages import NOTE_LABELS
from remixmusic.novelty.plots import LABEL_COLORS, chance_notes
from remixmusic.novelty.records import PassageRecord
from tests.page_report import Page


def test_passages_give_their_query_bars_and_their_sources_notes_from_the_index(analysis):
    report, used = analysis
    query = report.query_records()
    patchwork = [p for p in report.passage_records if p.piece == "patchwork1.mid" and p.label == "copied"]
    assert {p.source_names[0] for p in patchwork} >= set(used[2:])  # both halves found, each with its source
    notes = report.note_maps[[r.piece for r in query].index("patchwork1.mid")]
    for p in patchwork:
        first, last = (int(b) for b in p.bars.split("-"))
        assert 1 <= first <= last <= 8
        onset, pitch = parse_source_notes(p.source_notes)
        idx = p.notes
        assert len(pitch) == len(idx)
        # An exact copy under transposed+tempo: the same intervals and rhythm, moved by the transposition.
        assert np.array_equal(pitch + p.transposition, notes.pitch[idx])
        q_onset = notes.onset[idx] / STEPS_PER_BEAT
        np.testing.assert_allclose(np.diff(onset) * p.time_scale, np.diff(q_onset))
        assert onset[0] == pytest.approx(p.source_start_beat)
    # A motif says its query bars too, and a report written before these columns still reads back.
    assert all(re.fullmatch(r"\d+-\d+", m.bars) for m in report.motif_records)
    row = {k: v for k, v in patchwork[0].to_dict().items() if k not in ("bars", "source_notes")}
    old = PassageRecord.from_dict(row)
    assert old.bars == "" and old.source_notes == "" and old.passage == patchwork[0].passage


def test_the_first_screen_says_what_was_compared_before_any_table_and_the_settings_come_last(page, analysis):
    report, _ = analysis
    _text, dom = page
    ids = dom.ids()
    order = [
        ids[name]["pos"] for name in ("overview", "pieces", "sources", "details", "statistics", "settings")
    ]
    assert order == sorted(order)
    overview = ids["overview"]["text"]
    compared = len(report.compared_records("control"))  # six, less those carrying a reference tune
    assert compared < 6 and report.leakage["tune_check"]["ran"]
    assert (
        "3 query pieces" in overview and "284 reference pieces" in overview and f"{compared} human pieces" in overview
    )
    # The rule states the fewest notes a copy can have (a match spans min_match_notes; under
    # transposed+tempo its last note agrees in onset only), which no copied passage undercuts.
    fewest = report.params["min_match_notes"] - 1
    assert f"at least {fewest} consecutive notes" in overview
    assert f"a match spanning at least {report.params['min_match_notes']} notes" in overview
    assert all(p.n_notes >= fewest for p in report.passage_records if p.label == "copied")
    assert "95% interval" in overview and "cannot say" in overview
    # The headline numbers are the comparison's, with its interval.
    primary = next(c for c in report.comparisons if c.measure == "recombined_fraction")
    assert f"{100 * primary.query_mean:.1f}%" in overview
    assert f"{100 * primary.query_ci[0]:.1f}–{100 * primary.query_ci[1]:.1f}%" in overview
    first_table = dom.find("table")[0]
    assert "headline" in first_table["attrs"]["class"]


def test_the_per_piece_table_has_one_sortable_row_per_query_piece_linked_to_its_details(page, analysis):
    report, _ = analysis
    _, dom = page
    ids = dom.ids()
    table = next(t for t in dom.tables if t["element"]["attrs"].get("id") == "piece-summary")
    assert "sortable" in table["element"]["attrs"]["class"]
    rows = table["rows"][1:]
    assert [row[0]["text"] for row in rows] == [r.piece for r in report.query_records()]
    for row in rows:
        (link,) = dom.find("a", within=row[0])
        assert link["attrs"]["href"].lstrip("#") in ids
    # Every table sorts, and wide ones scroll in their own box rather than run off the page.
    for t in dom.tables:
        if "headline" not in t["element"]["attrs"].get("class", ""):
            assert "sortable" in t["element"]["attrs"]["class"]
    assert len(dom.find("div", "scroll")) == len(dom.tables) - 1


def test_every_passage_row_links_to_its_source_passage_shown_beside_it(page, analysis):
    report, _ = analysis
    _text, dom = page
    ids = dom.ids()
    query = [r.piece for r in report.query_records()]
    links = dom.find("a", "to-source", within=ids["details"])
    expected = [p for p in report.passage_records if p.group == "query"]
    assert len(links) == len(expected) > 0
    for link in links:
        target = ids[link["attrs"]["href"].lstrip("#")]
        assert "pair" in target["attrs"]["class"]
    for p in expected:
        pair = ids[f"pass-{query.index(p.piece)}-{p.passage}"]
        title = dom.find("h5", within=pair)[0]["text"]
        assert f"{p.piece} bars {p.bars}" in title
        assert f"{p.source_names[0]} bars {p.source_bars.split(';')[0]}" in title
        data = json.loads(dom.find("script", "pair-data", within=pair)[0]["text"])
        assert len(data["q"]) == min(p.n_notes, 64) and len(data["s"]) == len(p.source_notes.split(";"))
        if p.label != "varied":  # an exact match: the same notes, transposed
            assert [x[2] for x in data["q"]] == [x[2] + p.transposition for x in data["s"]]
    # Each recombined passage's source piece links to its row among the reference pieces drawn on.
    sources = {a["attrs"]["href"] for a in dom.find("a") if a["attrs"].get("href", "").startswith("#ref-")}
    assert sources and all(s.lstrip("#") in ids for s in sources)
    # The longest copy on the first screen links to a passage shown in the page.
    longest = [a for a in dom.find("a", within=ids["overview"]) if a["attrs"]["href"].startswith("#")]
    assert longest and all(a["attrs"]["href"].lstrip("#") in ids for a in longest)


def test_each_piece_has_a_player_with_its_notes_labels_and_bars(page, analysis):
    report, _ = analysis
    _, dom = page
    ids = dom.ids()
    for k, (record, notes) in enumerate(zip(report.query_records(), report.note_maps, strict=True)):
        section = ids[f"piece-{k}"]
        assert dom.find("canvas", "remix-map", within=section)
        assert dom.find("button", "play", within=section) and dom.find("button", "stop", within=section)
        data = json.loads(ids[f"data-{k}"]["text"])
        order = np.argsort(notes.onset, kind="stable")
        assert data["n"] == record.n_notes == len(data["o"])
        assert data["o"] == notes.onset[order].tolist() and data["p"] == notes.pitch[order].tolist()
        assert data["l"] == notes.label[order].tolist()
        assert data["b"][0] == 0 and data["b"] == sorted(data["b"])
        shown = [p for p in report.passage_records if p.group == "query" and p.piece == record.piece]
        assert len(data["pas"]) == len(shown)
        assert all(ids.get(entry[0]) for entry in data["pas"])  # each band names its passage's view
    globals_ = json.loads(ids["remix-globals"]["text"])
    assert globals_["labels"] == list(NOTE_LABELS) and globals_["colors"] == [
        LABEL_COLORS[x] for x in NOTE_LABELS
    ]


def test_the_page_loads_nothing_from_outside(page):
    text, dom = page
    for e in dom.elements:
        for name in ("src", "href", "action", "data"):
            value = e["attrs"].get(name)
            if e["tag"] == "a" and value in ("pieces.csv", "passages.csv", "motifs.csv", "report.json"):
                continue  # a link (not a load) to the files written beside the page
            if value is not None:
                assert value.startswith(("#", "data:image/png;base64,")), (e["tag"], name, value[:60])
    assert not dom.find("link") and not [s for s in dom.find("script") if "src" in s["attrs"]]
    assert "@import" not in text and "url(" not in text and "fetch(" not in text


# Machado, Oliveira & Fernandes (2009) simulation matrices at full severity, on linear RGB.
_CVD = {
    "normal": np.eye(3),
    "protan": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deutan": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
    "tritan": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
    ),
}


def _lab(hex_colour: str, vision: np.ndarray) -> np.ndarray:
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    linear = np.clip(vision @ linear, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_the_label_colours_stay_apart_under_colour_blindness():
    assert set(LABEL_COLORS) == set(NOTE_LABELS)
    for name, vision in _CVD.items():
        lab = {label: _lab(colour, vision) for label, colour in LABEL_COLORS.items()}
        closest = min(np.linalg.norm(lab[a] - lab[b]) for a, b in itertools.combinations(lab, 2))
        assert closest >= 15, (name, closest)  # CIELAB distance: clearly different side by side
    # novel is light and not-analysed grey: neither looks like the other.
    assert (
        _lab(LABEL_COLORS["novel"], np.eye(3))[0] > 90
        and abs(_lab(LABEL_COLORS["not-analysed"], np.eye(3))[1]) < 1
    )


def test_the_coverage_plot_marks_the_chance_length_and_the_shortest_match_counted(analysis):
    report, _ = analysis
    ax = report.plot_coverage().axes[0]
    lines = {
        line.get_label(): line.get_xdata()[0]
        for line in ax.lines
        if line.get_label().startswith(("chance", "shortest"))
    }
    chance = chance_notes(report.params)
    assert (
        chance
        == report.params["chance_length"]
        + report.params["min_match_notes"]
        - report.params["min_match_symbols"]
    )
    assert lines == {
        f"chance length ({chance} notes)": chance,
        f"shortest copy: {report.params['min_copy_notes']} notes (a match spanning "
        f"{report.params['min_match_notes']})": report.params["min_match_notes"],
    }


def test_control_rows_count_their_passages_and_stock_says_why(page, analysis):
    report, _ = analysis
    _text, dom = page
    control = [r for r in report.piece_records if r.group == "control"]
    heads = [[c["text"] for c in t["rows"][0]] for t in dom.tables]
    k = [i for i, h in enumerate(heads) if "copied / varied passages" in h][1]  # query's, then control's
    rows = dom.tables[k]["rows"][1:]
    col = heads[k].index("copied / varied passages")
    # The control table says where its pieces draw from, as the query's does.
    drawn = heads[k].index("drawn from (notes)")
    for record, row in zip(control, rows, strict=True):
        firsts = {
            p.source_names[0]
            for p in report.passage_records
            if p.piece == record.piece and p.label in ("copied", "varied") and p.sources
        }
        assert not firsts or any(name in row[drawn]["text"] for name in firsts)
    assert len(rows) == len(control)
    for record, row in zip(control, rows, strict=True):
        mine = [p for p in report.passage_records if p.group == "control" and p.piece == record.piece]
        want = f"{sum(p.label == 'copied' for p in mine)} / {sum(p.label == 'varied' for p in mine)}"
        assert row[col]["text"] == want
    assert any(r.copied_fraction > 0 for r in control)  # the check means something
    # A stock passage gives its reason: many tune groups, or too little information.
    legend = dom.ids()["legend"]["text"]
    assert "too little information" in legend and "many tune groups" in legend


def test_passages_numbered_from_one_in_bar_order_and_sources_by_notes_supplied():
    from remixmusic.novelty.page.details import passage_numbers
    from remixmusic.novelty.page.music import source_numbers
    from remixmusic.novelty.page.rule import stock_reason

    def rec(n, start, label, source, notes, df=1, bits=30.0):
        return PassageRecord.from_dict(
            {
                "piece": "q.mid",
                "group": "query",
                "passage": n,
                "line": 0,
                "track": 0,
                "voice": 0,
                "start_note": 0,
                "end_note": notes,
                "start_beat": start,
                "end_beat": start + 4,
                "bars": "1-2",
                "label": label,
                "sources": source,
                "source_bars": "1-2",
                "source_start_beat": 0,
                "source_end_beat": 4,
                "transposition": 0,
                "time_scale": 1.0,
                "edits": "",
                "n_edits": 0,
                "match_length": notes,
                "doc_freq": df,
                "bits": bits,
                "n_notes": notes,
                "prompt_notes": 0,
                "note_indices": ";".join(map(str, range(notes))),
                "source_notes": "",
            }
        )

    ps = [rec(0, 8, "stock", "b.mid", 8), rec(1, 0, "stock", "a.mid", 8), rec(2, 16, "stock", "c.mid", 9)]
    numbers = passage_numbers(ps)
    assert [numbers[id(p)] for p in ps] == [2, 1, 3]
    in_time = sorted(ps, key=lambda p: p.start_beat)
    assert source_numbers(in_time) == {"c.mid": 1, "a.mid": 2, "b.mid": 3}  # most notes, then first seen
    assert stock_reason(rec(0, 0, "stock", "a.mid", 8, df=7), 5).startswith("many sources")
    assert stock_reason(rec(0, 0, "stock", "a.mid", 8, df=1, bits=7.8), 5).startswith("low information")
    # The bits are set against the bound of the passage's own piece, not the settings' floor.
    assert "23.3 bits, below this piece's bound of 28.0" in stock_reason(
        rec(0, 0, "stock", "a.mid", 8, df=1, bits=23.3), 5, 28.04, 21.1
    )


def test_granularity_share_is_named_for_what_it_counts(page, analysis):
    report, _ = analysis
    text, _dom = page
    if report.granularity is None:
        pytest.skip("no granularity section")
    assert "lie in a stretch of at least one bar found note for note in some reference piece" in text
    assert "not</i> the headline share" in text


def test_every_control_piece_that_copies_gets_a_player_passages_and_sources(page, analysis):
    report, _ = analysis
    _text, dom = page
    ids = dom.ids()
    control = [r for r in report.piece_records if r.group == "control"]
    copying = [r for r in control if r.recombined_fraction > 0]
    # Every one of them, most copied and varied notes first (not only the ten that copy most).
    assert copying and set(report.control_note_maps) == {r.piece for r in copying}
    notes = [r.recombined_fraction * r.n_line_notes for r in copying]
    order = {r.piece: n for r, n in zip(copying, notes, strict=True)}
    assert [order[name] for name in report.control_note_maps] == sorted(notes, reverse=True)
    for i, name in enumerate(report.control_note_maps):
        section = ids[f"piece-c{i}"]
        assert name in section["text"]
        assert dom.find("canvas", "remix-map", within=section) and f"data-c{i}" in ids
        assert dom.find("button", "play", within=section)
        pairs = dom.find("div", "pair", within=section)
        mine = [p for p in report.passage_records if p.group == "control" and p.piece == name]
        assert len(pairs) == len(mine)
    assert "more human control pieces copy" not in ids["control-details"]["text"]


def test_control_pieces_past_the_page_limit_are_counted_and_said_left_out():
    from dataclasses import replace

    from tests.test_report import passage
    from tests.test_report_large import large_report, note_map

    report = large_report(64, 1, n_pieces=8)
    control = [r.piece for r in report.piece_records if r.group == "control"]
    report.control_note_maps = {name: note_map(64, seed=k) for k, name in enumerate(control)}
    report.passage_records += [passage(name, "control", "ref1.mid") for name in control]
    report.piece_records = [replace(r, leaked=r.piece == control[0]) for r in report.piece_records]
    dom = Page(report.html(max_maps=5))
    ids = dom.ids()
    shown = [k for k in ids if re.fullmatch(r"piece-c\d+", k)]
    assert len(shown) == 5 and len(dom.find("canvas", "remix-map", within=ids["control-details"])) == 5
    text = ids["control-details"]["text"]
    assert "The 5 of the 7 human control pieces with a copied or varied passage that copy most" in text
    assert "2 more human control pieces copy or vary a passage" in text
    # A piece the leakage check left out still shows, and says so.
    assert "Left out of the comparison: it duplicates a reference piece" in ids["piece-c0"]["text"]


def test_musicians_terms_and_a_plain_first_screen(page, analysis, tmp_path):
    from remixmusic.novelty.page.words import generation_text, interval_name, transposition_text

    assert transposition_text(16, 1.0).startswith("transposed up a major tenth (16 semitones)")
    assert transposition_text(-7, 1.0).startswith("transposed down a perfect fifth (7 semitones)")
    assert interval_name(12) == "an octave" and interval_name(2) == "a major second"
    report, _ = analysis
    text, dom = page
    overview = dom.ids()["overview"]["text"]
    # The statistics in one plain sentence; the CSV files beside the page linked.
    assert "unlikely to be chance (p = " in overview or "could well be chance (p = " in overview
    assert "the effect is " in overview
    assert "href='passages.csv'" in text and "href='pieces.csv'" in text
    # A share that is 0 in every piece says so instead of a 0.0-0.0% interval.
    assert "interval 0.0–0.0%" not in overview
    # The generation sidecars name the model and say whether there was a prompt.
    record = report.query_records()[0]
    (tmp_path / "g.mid").write_bytes(b"")
    (tmp_path / "g.json").write_text(
        json.dumps({"format": "remixmusic-generated", "model": {"name": "bach-small"}, "prompt": None})
    )
    made = generation_text([type(record)(**{**record.__dict__, "path": str(tmp_path / "g.mid")})])
    assert "generated by bach-small" in made and "no prompt" in made


def test_each_piece_states_the_information_bound_its_passages_were_held_to(page, analysis):
    import math

    report, _ = analysis
    _text, dom = page
    ids = dom.ids()
    p = report.params
    floor, n_ref = p["min_match_bits"], p["n_reference_symbols"]
    false = p["config"]["match"]["false_copies"]
    records = {r.piece: r for r in report.piece_records}
    for r in records.values():  # the matcher's rule: the larger of the floor and the E-value bound
        assert r.n_symbols > 0
        assert r.min_bits == pytest.approx(max(floor, math.log2(n_ref * r.n_symbols / false)))
    # The labels follow each piece's own bound, which here lies above the settings' floor.
    exact = [x for x in report.passage_records if x.label in ("copied", "stock")]
    assert all(x.bits >= records[x.piece].min_bits for x in exact if x.label == "copied")
    low = [x for x in exact if x.label == "stock" and x.doc_freq < p["df_threshold"]]
    assert low and all(x.bits < records[x.piece].min_bits for x in low)
    assert any(floor <= x.bits for x in low)  # the case a reader could not reconcile with the floor
    overview = ids["overview"]["text"].replace("\xa0", " ")
    assert f"floor of {floor:.1f} bits" in overview and f"R = {n_ref:,} symbols" in overview
    assert f"f = {false:g} chance copies allowed per piece" in overview
    query = [r.piece for r in report.query_records()]
    keys = {name: f"c{i}" for i, name in enumerate(report.control_note_maps)}
    for x in low:
        key = query.index(x.piece) if x.group == "query" else keys.get(x.piece)
        if key is None:
            continue
        bound = records[x.piece].min_bits
        section = ids[f"piece-{key}"]["text"]
        assert f"Information bound for its copies: {bound:.1f} bits" in section
        assert f"log2({n_ref:,} × {records[x.piece].n_symbols:,} / {false:g})" in section
        card = ids[f"pass-{key}-{x.passage}"]["text"]
        assert f"{x.bits:.1f} bits, below this piece's bound of {bound:.1f}" in card
    # The shortest copy said in words is what the matcher reports: the shortest exact passage found.
    fewest = min(x.n_notes for x in exact)
    assert f"at least {fewest} consecutive notes" in overview
    assert f"passages shorter than {fewest} notes are never counted as copies" in overview


def test_each_passage_view_names_its_lines_and_holds_both_textures_and_both_bars(page, analysis):
    from remixmusic.novelty.page.music import PAIR_TEXTURE_LIMIT, parse_bar_starts, parse_texture

    report, _ = analysis
    _text, dom = page
    ids = dom.ids()
    query = [r.piece for r in report.query_records()]
    checked = 0
    for p in report.passage_records:
        if p.group != "query":
            continue
        pair = ids[f"pass-{query.index(p.piece)}-{p.passage}"]
        title = dom.find("h5", within=pair)[0]["text"]
        title = re.sub(r" \(upbeat bar counted as 1: [^)]*\)", "", title)  # a file's printed measures
        assert f"bars {p.bars} ({p.line_name})" in title and p.line_name in (
            "Soprano",
            "Alto",
            "Tenor",
            "Bass",
        )
        assert f"({p.source_line_name})" in title
        data = json.loads(dom.find("script", "pair-data", within=pair)[0]["text"])
        first = float(p.source_notes.split(";")[0].split(":")[0])
        texture = parse_texture(p.source_texture)[:PAIR_TEXTURE_LIMIT]
        assert data["st"] == [[round(o - first, 3), d, q] for o, d, q in texture]
        assert data["st"] and data["qt"]  # four-voice chorales: three other voices on each side
        # The query's other voices: every other note of the piece sounding in the passage's span.
        notes = report.note_maps[query.index(p.piece)]
        on, off = notes.onset / STEPS_PER_BEAT, (notes.onset + notes.duration) / STEPS_PER_BEAT
        start = float(on[p.notes].min())
        mine = set(p.notes.tolist())
        others = [i for i in range(len(on)) if i not in mine and on[i] < p.end_beat and off[i] > start]
        assert sorted(x[2] for x in data["qt"]) == sorted(int(notes.pitch[i]) for i in others)
        assert dom.find("input", "all-voices", within=pair)
        # Bars: the query's from its note map, the source's from the index, each from the bar it begins in.
        q_first, q_last = (int(b) for b in p.bars.split("-"))
        assert [b for b, _ in data["qb"]] == list(range(q_first, q_last + 1)) and data["qb"][0][1] <= 0
        assert all(beat > 0 for _, beat in data["qb"][1:])
        assert [b for b, _ in data["sb"]] == [b for b, _ in parse_bar_starts(p.source_bar_starts)]
        assert data["sb"][0][0] == int(p.source_bars.split(";")[0].split("-")[0])
        checked += 1
    assert checked > 0
    # The passage tables name the lines too.
    tables = [t for t in dom.tables if t["rows"][0][0]["text"].startswith("passage")]
    col = [c["text"] for c in tables[0]["rows"][0]].index("line")
    names = {row[col]["text"] for t in tables for row in t["rows"][1:]}
    shown = set(query) | set(report.control_note_maps)
    assert names == {p.line_name for p in report.passage_records if p.piece in shown}


def test_a_melody_index_says_the_source_plays_its_line_alone(analysis):
    from dataclasses import replace

    report, _ = analysis
    melody = replace(
        report,
        params={**report.params, "lines": "melody"},
        passage_records=[replace(p, source_texture="") for p in report.passage_records],
    )
    dom = Page(melody.html())
    notes = [e for e in dom.find("p", "texture-note")]
    assert notes and all("keeps only the melody of each piece" in e["text"] for e in notes)
    assert len(notes) == len(dom.find("div", "pair"))


def test_varied_copies_with_their_own_allowance_are_held_to_the_matchers_varied_bound(analysis):
    from dataclasses import replace

    from remixmusic.data.datasets import load_dataset
    from remixmusic.novelty.index import Index
    from remixmusic.novelty.match import Matcher
    from remixmusic.novelty.page.rule import varied_bound

    report, _ = analysis
    config = {
        **report.params["config"],
        "match": {**report.params["config"]["match"], "varied_false_copies": 1.0},
    }
    loose = replace(report, params={**report.params, "config": config})
    index = Index.build(load_dataset("bach-chorales").pieces("train"))
    matcher, default = Matcher(index, varied_false_copies=1.0), Matcher(index)
    for r in report.piece_records:
        assert varied_bound(loose.params, r) == pytest.approx(
            matcher.piece_min_bits(r.n_symbols, varied=True)
        )
        # The default allowance (0.02) is stricter than false_copies (0.05): a higher bound.
        assert varied_bound(report.params, r) == pytest.approx(default.piece_min_bits(r.n_symbols, varied=True))
        assert varied_bound(report.params, r) >= r.min_bits
        assert varied_bound(loose.params, r) < r.min_bits
    dom = Page(loose.html())
    ids = dom.ids()
    assert "f = 1 chance varied copies allowed per piece" in ids["overview"]["text"].replace("\xa0", " ")
    query = [r.piece for r in report.query_records()]
    records = {r.piece: r for r in report.piece_records}
    varied = [p for p in report.passage_records if p.group == "query" and p.label == "varied"]
    assert varied
    for p in varied:
        card = ids[f"pass-{query.index(p.piece)}-{p.passage}"]["text"]
        assert (
            f"bit score {p.bits:.1f} bits ≥ this piece's bound for varied copies {varied_bound(loose.params, records[p.piece]):.1f}"
            in card
        )


def test_the_first_screen_says_what_a_zero_share_cannot_exclude(page, analysis):
    """Beside the headline shares, the detection limit: the shortest copy counted and the pieces' own
    information bounds, so 0% is read as 'no copy of that size', not 'no borrowing'."""
    report, _ = analysis
    text, _dom = page
    first = text[: text.index("class='verdict'")]
    bounds = [r.min_bits for r in report.compared_records("query") if np.isfinite(r.min_bits)]
    assert bounds
    assert f"a shared stretch of at least {report.params['min_copy_notes']} notes" in first
    low, high = round(min(bounds)), round(max(bounds))
    assert (f"{low}-{high} bits" if low != high else f"at least {low} bits") in first
    assert "0% means no copy of that size, not no borrowing at all" in first


def test_alternative_readings_are_marked_and_counted_nowhere_on_the_page(page, analysis):
    """A fresh tester's page named three sources for a piece that pieces.csv says draws on one
    (fan_in 1): varied readings over notes a copy already explains (``labelled_notes`` 0) were counted in
    the first screen's sources, the per-piece passage counts and the reference pieces drawn on. They stay
    listed with the piece's passages (numbered as in passages.csv), marked as alternatives."""
    report, _ = analysis
    _text, dom = page
    alternatives = [p for p in report.passage_records if p.group == "query" and p.labelled_notes == 0]
    counted = [p for p in report.passage_records if p.group == "query" and p.labelled_notes != 0]
    assert alternatives, "the fixture has alternative readings"
    ids = dom.ids()
    query = [r.piece for r in report.query_records()]
    for p in alternatives:
        pair = ids[f"pass-{query.index(p.piece)}-{p.passage}"]
        assert "An alternative reading" in " ".join(x["text"] for x in dom.find("p", within=pair))
    drawn = {p.source_names[0] for p in counted if p.label in ("copied", "varied") and p.sources}
    only_alternative = {p.source_names[0] for p in alternatives if p.sources} - drawn
    rows = {a["attrs"]["href"] for a in dom.find("a") if a["attrs"].get("href", "").startswith("#ref-")}
    index = {name: i for i, name in enumerate(report.reference_names)}
    assert not {f"#ref-{index[s]}" for s in only_alternative if s in index} & rows
