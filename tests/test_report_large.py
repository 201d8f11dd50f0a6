"""report.html of a large piece: remix maps and tables stay bounded (issue 9, kind 7)."""

import json
import re
import time
from dataclasses import replace

import numpy as np
import pytest

from remixmusic.music.notes import STEPS_PER_BEAT
from remixmusic.novelty.page import PLAYER_NOTE_LIMIT
from remixmusic.novelty.passages import NOTE_LABELS
from remixmusic.novelty.report import (
    HTML_MAX_ROWS,
    HTML_MAX_SOURCE_ROWS,
    NOTE_MAP_JSON_LIMIT,
    AnalysisReport,
    NoteMap,
)
from tests.test_report import motif, passage, piece_record


def note_map(n: int, seed: int = 0) -> NoteMap:
    """4-note chords on every 16th (3 steps), labels and sources in runs, as a large piano file gives."""
    rng = np.random.default_rng(seed)
    onset = np.arange(n) // 4 * 3
    root = 48 + (np.arange(n) // 4) % 24
    pitch = root + np.tile([0, 4, 7, 12], n // 4 + 1)[:n]
    runs = np.repeat(rng.integers(0, len(NOTE_LABELS), n // 64 + 1), 64)[:n]
    source = np.where(np.isin(runs, [0, 1]), np.repeat(rng.integers(0, 30, n // 64 + 1), 64)[:n], -1)
    return NoteMap(onset, np.full(n, 3), pitch, source, runs)


def large_report(n_notes: int, n_motifs: int, n_pieces: int = 1) -> AnalysisReport:
    """One query piece of ``n_notes`` notes with ``n_motifs`` motifs and as many passages, and
    ``n_pieces - 1`` control pieces."""
    base = motif("big.mid", "query", "ref3.mid")
    motifs = [replace(base, motif=k, start_beat=float(k), end_beat=k + 1.0) for k in range(n_motifs)]
    first = passage("big.mid", "query", "ref3.mid")
    passages = [
        replace(first, passage=k, start_beat=k / 4, end_beat=k / 4 + 0.5, note_indices=f"{k};{k + 1}")
        for k in range(n_motifs)
    ]
    pieces = [replace(piece_record("big.mid", "query"), n_notes=n_notes)]
    pieces += [piece_record(f"c{k}.mid", "control") for k in range(n_pieces - 1)]
    return AnalysisReport(
        params={"min_match_notes": 5, "invariance": "transposed+tempo", "config": {"seed": 0}},
        piece_records=pieces,
        motif_records=motifs,
        passage_records=passages,
        coverage_lengths=np.arange(2, 4),
        coverage={"query": np.ones((1, 2))},
        originality_curves=[],
        comparisons=[],
        leakage={},
        skipped=[(f"bad{k}.mid", "no pitched notes") for k in range(n_pieces)],
        reference_names=[f"ref{k}.mid" for k in range(30)],
        note_maps=[note_map(n_notes)],
    )


def artists(fig) -> int:
    ax = fig.axes[0]
    return len(ax.patches) + len(ax.images) + len(ax.collections) + len(ax.lines)


def test_a_large_pieces_remix_map_is_one_raster_image_not_a_bar_per_note():
    small, large = large_report(64, 10), large_report(100_000, 10)
    fig_small, fig_large = small.plot_remix_map(0), large.plot_remix_map(0)
    assert len(fig_small.axes[0].patches) == 64 and not fig_small.axes[0].images
    assert len(large.plot_remix_map(0, max_notes=100).axes[0].images) == 1
    assert artists(fig_large) == 1 and len(fig_large.axes[0].images) == 1
    image = fig_large.axes[0].images[0].get_array()
    assert image.shape[0] == 12 + 24 and image.shape[1] <= 1_200  # one row per pitch, bounded columns
    assert "raster" in fig_large.axes[0].get_title()
    # The raster keeps what the notes are: the cells' colours are the notes' colours (opaque where drawn).
    assert np.asarray(image)[..., 3].max() == 1.0 and (np.asarray(image)[..., 3] > 0).mean() > 0.1


def test_a_large_pieces_remix_map_keeps_the_dominant_colour_of_each_cell():
    # 6,000 notes on one pitch, all copied from ref0 except a short stretch of novel ones.
    n = 6_000
    label = np.full(n, NOTE_LABELS.index("copied"))
    label[100:200] = NOTE_LABELS.index("novel")
    notes = NoteMap(np.arange(n) * 12, np.full(n, 12), np.full(n, 60), np.where(label == 0, 0, -1), label)
    report = large_report(10, 1)
    report.note_maps = [notes]
    image = np.asarray(report.plot_remix_map(0).axes[0].images[0].get_array())
    assert image.shape[0] == 1
    colours = {tuple(np.round(c, 3)) for c in image[0]}
    assert len(colours) == 2  # the source colour and novel's grey: no blend, no empty cell


def test_html_of_a_100000_note_piece_is_bounded_against_one_just_over_the_player_limit():
    # Both pages draw their piece as a raster and hold the player's first notes; the large one has 20 times
    # the notes, 300 times the motifs and passages and 2,000 pieces: its cost must not follow.
    small = large_report(PLAYER_NOTE_LIMIT + 1, HTML_MAX_SOURCE_ROWS)
    large = large_report(100_000, 30_000, n_pieces=2_000)
    large_report(64, 1).html()  # warm up imports and fonts
    t = time.perf_counter()
    small_page = small.html()
    t_small = time.perf_counter() - t
    t = time.perf_counter()
    page = large.html()
    t_large = time.perf_counter() - t
    assert t_large < 3 * t_small + 0.5, (t_large, t_small)
    assert len(page) < 3 * len(small_page) + 200_000
    # Tables capped, each with the visible line and where the full table is.
    assert page.count("<tr") <= 4 * HTML_MAX_ROWS + HTML_MAX_SOURCE_ROWS + 100
    assert f"first {HTML_MAX_ROWS:,} of 1,999 rows; full table in pieces.csv" in page  # the control
    assert f"first {HTML_MAX_ROWS:,} of 30,000 rows; full table in motifs.csv" in page
    assert f"first {HTML_MAX_SOURCE_ROWS:,} of 30,000 rows; full table in passages.csv" in page
    assert "full table in report.json (skipped)" in page
    # At most HTML_MAX_SOURCE_ROWS passages beside their sources; the player holds the first notes only,
    # and the whole piece is drawn as a raster.
    assert page.count("class='pair'") == HTML_MAX_SOURCE_ROWS
    data = json.loads(re.search(r"<script type='application/json' id='data-0'>(.*?)</script>", page).group(1))
    assert len(data["o"]) == len(data["p"]) == PLAYER_NOTE_LIMIT and data["n"] == 100_000
    assert data["o"] == sorted(data["o"])
    assert "data:image/png" in page.split("id='piece-0'")[1].split("</section>")[0]
    # A small report's tables are whole, without the line.
    assert "rows; full table in" not in small_page.split("<section id='statistics'>")[0]


def test_a_large_pieces_note_map_is_kept_out_of_report_json_in_an_npz_beside_it(tmp_path):
    report = large_report(NOTE_MAP_JSON_LIMIT + 4, 3)
    small = note_map(64)
    report.piece_records.append(replace(piece_record("small.mid", "query"), n_notes=64))
    report.note_maps.append(small)
    report.save(tmp_path, max_maps=0)
    saved = json.loads((tmp_path / "report.json").read_text())
    big, little = saved["note_maps"]
    assert "pitch" not in big and big["n_notes"] == NOTE_MAP_JSON_LIMIT + 4
    assert sum(big["label_counts"].values()) == big["n_notes"] and big["arrays"] == "note_maps.npz"
    assert len(little["pitch"]) == len(little["label"]) == 64  # small pieces keep their per-note lists
    with np.load(tmp_path / big["arrays"]) as arrays:
        prefix = big["arrays_prefix"]
        assert np.array_equal(arrays[prefix + "pitch"], report.note_maps[0].pitch)
        assert np.array_equal(arrays[prefix + "label"], report.note_maps[0].label)
        assert np.allclose(arrays[prefix + "onset_beat"] * STEPS_PER_BEAT, report.note_maps[0].onset)
    # A report without a large piece writes no npz.
    report.note_maps, report.piece_records = [small], [report.piece_records[1]]
    report.save(tmp_path / "small", max_maps=0)
    assert not (tmp_path / "small" / "note_maps.npz").exists()
    # ... and saved over the large one, it removes that run's npz instead of leaving it beside its files
    report.save(tmp_path, max_maps=0)
    assert not (tmp_path / "note_maps.npz").exists()


def test_an_interrupted_save_leaves_the_earlier_report_whole(tmp_path, monkeypatch):
    """Ctrl-C while the page renders (the slow part) must not leave one run's report.json beside another
    run's tables and page: nothing is written until everything is rendered."""
    first = large_report(300, 3)
    first.save(tmp_path, max_maps=0)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    second = large_report(400, 5)

    def interrupted(self, max_maps=50):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(second), "html", interrupted)
    with pytest.raises(KeyboardInterrupt):
        second.save(tmp_path, max_maps=0)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
