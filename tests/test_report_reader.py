"""report.html as a fresh reader (a musicologist) reads it: one shortest copy everywhere, the granularity
figure kept apart from the headline, beats, bars and passage numbers the same on the page and in the
files, and each passage view drawn as its card says."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re

import numpy as np
import pytest
from rich.console import Console

from remixmusic.novelty.page.music import band_rows


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
    text, _dom = page
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
            assert section.index("of their notes lie in a stretch of at least one bar") < at
        assert "beyond the piece's own shuffles" not in text


def test_the_bar_long_stretch_share_is_the_number_the_chart_plots_on_the_first_screen_too(page, analysis):
    report, _ = analysis
    text, _dom = page
    g = report.granularity
    if g is None:
        pytest.skip("no granularity section")
    plain = re.sub(r"<[^>]+>", "", text)
    first = re.sub(r"<[^>]+>", "", text[text.index("<section id='overview'>") : text.index("<h3 id='rule'>")])
    section = plain[plain.index("How long the shared stretches are") :]
    one = int(np.argmin(np.abs(np.asarray(g.calibration.grid) - 1.0)))
    said = {}
    for group, who in (("query", "query pieces"), ("control", "human control")):
        v = g.groups[group]
        # The chart's solid line at 1 bar is the mean of pieces.csv's span_coverage_1.
        records = [r for r in report.compared_records(group) if np.isfinite(r.span_coverage_1)]
        mean = float(np.mean([r.span_coverage_1 for r in records]))
        assert mean == pytest.approx(float(v.mean_curve[one]), abs=1e-9)
        shown = f"{100 * mean:.0f}%"
        item = section[section.index(f"{who} ({v.n_pieces} pieces): ") :]
        assert item.startswith(
            f"{who} ({v.n_pieces} pieces): {shown} of their notes lie in a stretch of at least one bar"
        ), item[:200]
        # Chance is shown beside it, never said to be subtracted.
        assert (
            f"reach {100 * float(v.mean_chance[one]):.0f}% (the dotted line at 1 bar), which is not "
            "subtracted" in item
        )
        said[group] = shown
    assert "only what is more than the same piece with its notes shuffled" not in plain
    # The first screen says the same two numbers in one sentence.
    sentence = re.search(
        r"(\d+%) of the query notes.*? and (\d+%) of the human control notes.{0,40}? lie in a "
        r"stretch of at least one bar shared note for note",
        first,
    )
    assert sentence and sentence.groups() == (said["query"], said["control"]), sentence


def test_passage_numbers_beats_and_bars_are_the_same_on_the_page_and_in_the_csv(page, analysis, tmp_path):
    report, _ = analysis
    text, dom = page
    report.save(tmp_path)
    rows = list(csv.DictReader((tmp_path / "passages.csv").open(encoding="utf-8")))
    ids = dom.ids()
    query = [r.piece for r in report.query_records()]
    checked = 0
    for row in rows:
        if row["group"] != "query" or row["piece"] not in query:
            continue
        k = query.index(row["piece"])
        card = ids.get(f"pass-{k}-{row['passage']}")
        if card is None:
            continue
        # The card's number is the CSV's passage number; its beats are the CSV's, counted from 1.
        heading = next(e for e in dom.find("h5", within=card))["text"]
        assert heading.startswith(f"{row['passage']}. "), (heading, row["passage"])
        checked += 1
    assert checked >= 5
    for piece in query:
        numbers = [int(r["passage"]) for r in rows if r["piece"] == piece]
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
    row = next(r for r in rows if r["group"] == "query")
    cells = next(t for t in dom.tables if t["rows"][0][0]["text"].startswith("passage"))["rows"]
    first = next(c for c in cells[1:] if c[0]["text"].startswith(f"{row['passage']} "))
    assert f"beats {float(row['start_beat']) + 1:g}–" in first[1]["text"]
    assert "passages.csv counts beats from 0" in text


def test_an_upbeat_bar_is_said_with_printed_measures():
    from remixmusic.novelty.page.details import opens_with_pickup, printed_bars
    from remixmusic.novelty.report import NoteMap

    def notes(bar_starts, first_onset):
        onset = np.array([first_onset, first_onset + 12])
        one = np.ones(2, np.int64)
        return NoteMap(onset, one, one * 60, -one, one, np.asarray(bar_starts))

    assert opens_with_pickup(notes([0, 12, 60, 108], 0))  # a one-beat first bar in 4/4
    assert opens_with_pickup(notes([0, 48, 96, 144], 36))  # a full first bar, its notes from beat 4
    assert not opens_with_pickup(notes([0, 48, 96, 144], 0))
    assert printed_bars("4-9") == "measures 3–8" and printed_bars("1-3") == "the upbeat and measures 1–2"
    assert printed_bars("1-2") == "the upbeat and measure 1" and printed_bars("5-5") == "measure 4"


def test_sources_opening_with_an_upbeat_are_found_in_the_index(analysis):
    from remixmusic.data.datasets import load_dataset
    from remixmusic.novelty.context import SourceContext
    from remixmusic.novelty.index import Index

    train = load_dataset("bach-chorales").pieces("train", show_progress=False)[:40]
    index = Index.build(train, show_progress=False)
    context = SourceContext(index)
    for pid, piece in enumerate(train):
        starts = piece.bar_starts()
        first = int(piece.notes["onset"].min())
        upbeat = (len(starts) > 2 and starts[1] - starts[0] < starts[2] - starts[1]) or starts[0] < first
        slot = int(np.flatnonzero(np.asarray(index.piece) == pid)[0])
        assert context.pickup(slot) == bool(upbeat), piece.source
    assert any(context.pickup(int(np.flatnonzero(np.asarray(index.piece) == p)[0])) for p in range(40))
    report, _ = analysis
    assert any(p.source_pickup for p in report.passage_records)
    card = next(p for p in report.passage_records if p.source_pickup and p.group == "query")
    assert "upbeat bar counted as 1" in report.html()
    assert card.source_pickup


def test_a_passage_is_drawn_in_its_own_label_with_the_edits_its_card_names(page, analysis):
    from remixmusic.novelty.page.music import pair_data
    from remixmusic.novelty.passages import NOTE_LABELS

    report, _ = analysis
    text, dom = page
    query = report.query_records()
    maps = {r.piece: m for r, m in zip(query, report.note_maps, strict=False)}
    varied = [p for p in report.passage_records if p.label == "varied" and p.piece in maps]
    assert varied, "the analysis has varied copies"
    for p in report.passage_records:
        if p.piece not in maps:
            continue
        data = pair_data(p, maps[p.piece])
        # The drawing's fill is the passage's own label, even where its notes carry another (a stock
        # passage over varied notes was drawn hatched as varied).
        assert data["lab"] == NOTE_LABELS.index(p.label)
        marks = data["eq"] + data["es"]
        assert len(marks) == p.n_edits
        kinds = sorted(e.split("@")[0] for e in p.edits.split(";") if e)
        assert sorted(m[1] for m in marks) == kinds
        for at, kind in data["eq"]:
            assert 0 <= at < len(data["q"]) and kind != "deletion"
        for at, kind in data["es"]:
            assert 0 <= at < len(data["s"]) and kind == "deletion"
    p = varied[0]
    card = dom.ids()[f"pass-{[r.piece for r in query].index(p.piece)}-{p.passage}"]
    assert "marked in the drawing" in card["text"]
    script = text[text.rindex("<script>") :]
    assert "d.lab" in script and "d.eq" in script and "d.es" in script


def test_smaller_items_a_reader_stumbled_on(page, analysis):
    from remixmusic.novelty.page.words import transposition_text
    from remixmusic.novelty.passages import NOTE_LABELS

    report, _ = analysis
    text, dom = page
    ids = dom.ids()
    # "Only copied and varied notes" on a piece with none says so when ticked.
    recombined = (NOTE_LABELS.index("copied"), NOTE_LABELS.index("varied"))
    for k, notes in enumerate(report.note_maps):
        none = dom.find("span", "solo-none", within=ids[f"piece-{k}"])
        has = bool(np.isin(notes.label, recombined).any())
        assert bool(none) == (not has)
        if none:
            assert "no copied or varied note" in none[0]["text"] and "hidden" in none[0]["attrs"]
    assert "none.hidden = !solo.checked" in text
    # Settings given as None show the value used.
    settings = {
        r[0]["text"]: r[1]["text"]
        for r in next(t for t in dom.tables if t["rows"][0][0]["text"] == "setting")["rows"][1:]
    }
    p = report.params
    assert report.params["config"]["match"]["min_length"] is None
    assert settings["config.match.min_length"] == (
        f"derived from the index (its chance length + 2): {p['min_match_symbols']} symbols "
        f"({p['min_match_notes']} notes spanned)"
    )
    assert settings["config.match.stock_df"] == f"derived from the index: {p['df_threshold']} tune groups"
    assert "None" not in settings.values()
    # The rhythm phrase says what is compared (where notes start), not note values.
    assert transposition_text(0, 1.0) == "same key, same rhythm at the same speed"
    assert "same note values" not in text
    assert "how long each is held is not compared" in text
    # Plain words before the technical form.
    plain = re.sub(r"<[^>]+>", "", text).replace("\xa0", " ")
    assert plain.index("a bound that grows with the size of the piece") < plain.index("E-value bound log2(R")


def test_novel_notes_are_called_no_copy_with_the_shortest_copy_and_short_stretches_are_said_uncounted(
    page, analysis
):
    report, _ = analysis
    text, dom = page
    plain = re.sub(r"<[^>]+>", "", text)
    fewest = report.params["min_copy_notes"]
    # Notes labelled novel do lie in exact matches of a bar or more: "no match" would be false.
    novel = [r for r in report.compared_records("control") if r.novel_fraction > 0.5]
    assert novel and any(r.span_coverage_1 > 1 - r.novel_fraction for r in novel)
    assert "no match in the reference" not in plain
    legend = dom.ids()["legend"]
    names = [e["text"] for e in dom.find("b", within=legend)]
    assert f"no copy (no shared stretch of {fewest}+ notes)" in names and "novel" not in names
    # Wherever a share of such notes is shown, shorter stretches are said not to count as copies.
    summary = dom.ids()["pieces"]["text"]
    assert "no copy" in summary and "shorter shared stretches are not counted as copies" in summary
    heads = [
        c["text"]
        for c in next(t for t in dom.tables if "copied + varied" in t["rows"][0][2]["text"])["rows"][0]
    ]
    assert any("no copy" in h for h in heads) and not any(h.strip() == "novel" for h in heads)
    details = dom.ids()["details"]["text"]
    assert details.count("are in no copy") >= 1
    assert "shorter shared stretches are not counted as copies" in details


def test_the_notes_drawn_from_each_source_count_each_note_once(page, analysis):
    report, _ = analysis
    text, dom = page
    plain = re.sub(r"<[^>]+>", "", text)
    query = {r.piece: r for r in report.query_records()}
    piece = "patchwork0.mid"
    passages = [p for p in report.passage_records if p.piece == piece and p.label in ("copied", "varied")]
    union = set().union(*(set(p.notes.tolist()) for p in passages))
    assert sum(p.n_notes for p in passages) > len(union)  # its passages overlap
    # The piece's text gives each source's notes; together they are its copied and varied notes.
    k = list(query).index(piece)
    gist = next(e for e in dom.find("p", cls="gist", within=dom.ids()[f"piece-{k}"]))["text"]
    counts = [int(n) for n in re.findall(r"(\d+) notes", gist.split("drawn from", 1)[1])]
    assert sum(counts) == len(union), (counts, gist)
    record = query[piece]
    assert len(union) == pytest.approx(
        (record.copied_fraction + record.varied_fraction) * record.n_line_notes, abs=2
    )
    # The per-piece table's "drawn from (notes)" gives the same counts, its first three sources.
    row = next(
        r
        for r in next(t for t in dom.tables if "copied + varied" in t["rows"][0][2]["text"])["rows"]
        if r[0]["text"] == piece
    )
    assert [int(n) for n in re.findall(r"\((\d+)\)", row[3]["text"])] == counts[:3]
    assert plain


def test_beat_ranges_on_the_page_include_their_last_beat_and_the_csv_keeps_its_exclusive_end(
    page, analysis, tmp_path
):
    report, _ = analysis
    text, dom = page
    report.save(tmp_path)
    rows = [
        r for r in csv.DictReader((tmp_path / "passages.csv").open(encoding="utf-8")) if r["group"] == "query"
    ]
    cells = [c for t in dom.tables if t["rows"][0][0]["text"].startswith("passage") for c in t["rows"][1:]]
    checked = 0
    for row in rows:
        start, end = float(row["start_beat"]), float(row["end_beat"])
        shown = [
            c[1]["text"]
            for c in cells
            if c[1]["text"].startswith(row["bars"] + " ") and f"beats {start + 1:g}–" in c[1]["text"]
        ]
        if not shown:
            continue
        # A span ending where beat N ends (0-based exclusive end N) is said "...–N", not "...–N+1".
        assert f"beats {start + 1:g}–{math.ceil(end):g})" in shown[0], (row, shown)
        checked += 1
    assert checked >= 5
    assert any(float(r["end_beat"]).is_integer() for r in rows)
    assert "its <code>start_beat</code> 8 and <code>end_beat</code> 16 are beats 9–16 here" in text


def test_overlapping_passages_on_a_remix_map_each_get_a_band_of_their_own(page):
    _text, dom = page
    # Five passages of which four overlap the fifth (as in a chorale whose voices copy together):
    # every band stays visible, the fifth in a fifth row.
    assert band_rows([(2, 10), (2, 11), (4, 12), (5, 14), (5, 14), (32, 36)]) == [0, 1, 2, 3, 4, 0]
    ids = dom.ids()
    checked = 0
    for key in [i[len("data-") :] for i in ids if i.startswith("data-")]:
        pas = json.loads(ids[f"data-{key}"]["text"])["pas"]
        for a, b in itertools.combinations(pas, 2):
            if a[1] < b[2] and b[1] < a[2]:  # overlapping in time
                assert a[6] != b[6], (key, a, b)
                checked += 1
    assert checked >= 3


def test_stock_self_repeat_and_label_precedence_are_each_said_once(page, analysis):
    from remixmusic.novelty.page.rule import LABEL_PRECEDENCE
    from remixmusic.novelty.passages import _PRIORITY

    report, _ = analysis
    text, dom = page
    plain = re.sub(r"<[^>]+>", "", text)
    p = report.params
    # The first screen's stock row names both reasons a match is stock.
    head = next(t for t in dom.tables if "headline" in t["element"]["attrs"].get("class", ""))
    stock = next(r[0]["text"] for r in head["rows"] if "stock" in r[0]["text"])
    assert "common formulas" in stock and "too little information" in stock
    # Self-repeat's shortest stretch and the order labels win in, once, as the code decides them.
    said = (
        f"Self-repeat: a stretch of at least {p['min_match_notes']} notes ({p['min_match_symbols']} symbols"
    )
    assert plain.count(said) == 1
    assert LABEL_PRECEDENCE == _PRIORITY
    assert plain.count("a note takes the first label of: prompt, copied, varied, stock, self-repeat") == 1


def test_passage_counts_say_what_they_count(analysis):
    from pathlib import Path

    from remixmusic.novelty.records import PIECE_COLUMNS, PieceRecord

    report, _ = analysis
    assert "n_stock_passages" in PIECE_COLUMNS
    for r in report.piece_records:
        mine = [p for p in report.passage_records if p.piece == r.piece and p.group == r.group]
        # counted: the passages that give a note its label (labelled_notes > 0); the others are
        # alternative readings, listed but not counted
        assert r.n_passages == sum(p.label in ("copied", "varied") and p.labelled_notes > 0 for p in mine)
        assert r.n_stock_passages == sum(p.label == "stock" and p.labelled_notes > 0 for p in mine)
        assert all(p.labelled_notes >= 0 for p in mine)
    assert any(r.n_stock_passages for r in report.piece_records)
    doc = " ".join((PieceRecord.__doc__ or "").split())
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    for text in (doc, readme, re.sub(r"<[^>]+>", "", report.html())):
        assert "n_passages" in text and "copied and varied passages only" in text
        assert "n_stock_passages" in text


def test_the_files_say_the_page_leaves_out_left_out_rows(analysis):
    from pathlib import Path

    from remixmusic.novelty.records import PieceRecord

    report, _ = analysis
    doc = " ".join((PieceRecord.__doc__ or "").split())
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    plain = re.sub(r"<[^>]+>", "", report.html())
    assert "leave out every row with a non-empty ``left_out``" in doc
    assert "leave out every row with a non-empty `left_out`" in readme
    # Beside the links to the files at the top and in the Tables section.
    assert plain.count("page's numbers leave out every row with a non-empty left_out") >= 2


def test_a_query_piece_opening_with_an_upbeat_gives_its_printed_measures(analysis):
    import dataclasses

    from remixmusic.novelty.page.details import opens_with_pickup, piece_details, printed_bars

    report, _ = analysis
    upbeat = [
        k
        for k, r in enumerate(report.query_records())
        if opens_with_pickup(report.note_maps[k]) and any(p.piece == r.piece for p in report.passage_records)
    ]
    assert upbeat
    k = upbeat[0]
    record = report.query_records()[k]
    # Sources without an upbeat, so every printed measure said is the query piece's own.
    passages = [
        dataclasses.replace(p, source_pickup=False)
        for p in report.passage_records
        if p.piece == record.piece and p.group == record.group
    ]
    markup = piece_details(report, k, passages).markup
    for p in passages[:3]:
        printed = printed_bars(p.bars)
        said = f"{p.bars} <small class='printed'>(upbeat bar counted as 1: {printed})</small>"
        assert markup.count(said) >= 2, p.bars  # in the passage table and on its card
