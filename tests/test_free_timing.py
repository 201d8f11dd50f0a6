"""Copies played with free timing (a recording made without a click, or at a tempo that is not the file's):
the reader measures how many onsets lie off the beat grid (:mod:`remixmusic.io.grid`) and an analysis
that compares rhythm says that it may miss copies in such pieces, and what to use instead. A fresh
tester's performed copies (25 ms jitter, or a steady 110 qpm in a 120 qpm file) came back mostly novel
with nothing on the page to say why."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from remixmusic.io.grid import OFF_GRID, off_grid_share
from remixmusic.io.midi import midi_bytes_to_piece
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.index import Index
from tests import test_match
from tests.test_match import _melody
from tests.test_midi_cases import encode_track, smf


def _played(rows: np.ndarray, factor: float, jitter: float, seed: int = 0) -> bytes:
    """``rows`` (a melody: pitch, onset, duration in steps) as a one-track file at 480 ticks a beat, its
    times multiplied by ``factor`` and moved by Gaussian ``jitter`` (ticks)."""
    rng = np.random.default_rng(seed)
    start = (rows["onset"] - rows["onset"][0]).astype(np.float64) * 40 * factor
    end = start + rows["duration"] * 40 * factor * 0.9
    start = np.maximum(np.rint(start + rng.normal(0, jitter, len(start))), 0).astype(int)
    events = []
    for pitch, on, off in zip(rows["pitch"].tolist(), start.tolist(), np.rint(end).astype(int).tolist(), strict=True):
        events += [(on, bytes([0x90, pitch, 80])), (max(off, on + 1), bytes([0x80, pitch, 0]))]
    events.sort(key=lambda e: (e[0], e[1][0] == 0x90))
    return smf(encode_track(events), fmt=0)


def test_a_score_is_on_the_grid_and_a_performance_off_it():
    sixteenths_and_triplets = np.r_[np.arange(0, 4800, 120), np.arange(0, 4800, 160)]
    assert off_grid_share(sixteenths_and_triplets, 480) == 0.0
    assert off_grid_share(sixteenths_and_triplets + 7, 480) == 0.0  # a constant export offset
    rng = np.random.default_rng(0)
    clicked = sixteenths_and_triplets + rng.integers(-4, 5, len(sixteenths_and_triplets))  # a few ms
    assert off_grid_share(clicked, 480) == 0.0  # reading rounds it to the score's steps
    performed = np.rint(np.arange(40) * 240 * 120 / 110).astype(int)  # eighths at 110 qpm in a 120 file
    assert off_grid_share(performed, 480) > OFF_GRID
    assert off_grid_share(np.arange(0, 4800, 60), 480) == 0.5  # 32nds: finer than the grid, rounded
    assert off_grid_share(np.zeros(0), 480) == 0.0


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    st.sampled_from([24, 96, 120, 192, 384, 480, 960]),
    st.lists(st.integers(0, 12 * 64), min_size=1, max_size=50),
    st.integers(0, 40),
)
def test_onsets_on_the_step_grid_are_on_it_at_any_resolution_and_offset(ticks_per_beat, steps, offset):
    ticks = np.array(steps) * ticks_per_beat // 12 + offset * ticks_per_beat // 480
    assert off_grid_share(ticks, ticks_per_beat) == 0.0


def test_a_performed_copy_is_flagged_and_intervals_find_it():
    reference = test_match.reference.__wrapped__(test_match.essen.__wrapped__())  # type: ignore[attr-defined]
    source = next(p for p in reference if len(_melody(p)) >= 32)
    rows = _melody(source)[:32]
    on_grid = midi_bytes_to_piece(_played(rows, 1.0, 0.0), source="score.mid")
    performed = midi_bytes_to_piece(_played(rows, 120 / 110, 12.0), source="take [bold].mid")
    assert "off_grid" not in on_grid.metadata
    assert performed.metadata["off_grid"] >= OFF_GRID

    report = analyze([on_grid, performed], Index.build(reference), jobs=1, show_progress=False, originality=False)
    assert [name for name, _ in report.off_grid] == ["take [bold].mid"]
    assert "1 piece(s) look played with free timing (take [bold].mid" in report.off_grid_warning()
    assert "--invariance intervals" in report.off_grid_warning()
    assert report.to_dict()["off_grid"] == [{"piece": "take [bold].mid", "share": performed.metadata["off_grid"]}]
    terminal = io.StringIO()  # a name with markup in it is printed as it is (its "[bold]" was eaten)
    report.print_summary(Console(file=terminal, width=200))
    assert "look played with free timing (take [bold].mid" in terminal.getvalue()

    by_pitch = analyze(
        [performed], Index.build(reference, invariance="intervals"), jobs=1, show_progress=False, originality=False
    )
    assert by_pitch.off_grid_warning() == ""  # pitch only: nothing to warn of
    copied = [p for p in by_pitch.passage_records if p.label == "copied" and source.source in p.sources]
    assert copied and max(p.end_note - p.start_note for p in copied) >= 28


def test_a_long_copy_with_a_grace_note_every_ten_notes_is_whole_with_max_edits_4(tmp_path):
    """A fresh tester's ornamented copies (4 grace notes in 40 notes): one varied passage with two edits
    and the first and last notes novel under the default 2 edits; ``--max-edits 4`` keeps them whole."""
    import json

    from typer.testing import CliRunner

    from remixmusic.cli import app
    from remixmusic.io.midi import write_midi
    from remixmusic.music.notes import NOTE_DTYPE, Piece, Track

    reference = test_match.reference.__wrapped__(test_match.essen.__wrapped__())  # type: ignore[attr-defined]
    source = next(p for p in reference if len(_melody(p)) >= 40 and len(set(_melody(p)["duration"][:40].tolist())) > 1)
    rows = _melody(source)[:40]
    out = []
    for k, (pitch, onset, duration) in enumerate(zip(rows["pitch"].tolist(), rows["onset"].tolist(), rows["duration"].tolist(), strict=True)):
        onset -= int(rows["onset"][0])
        if k % 10 == 5 and duration >= 6:  # a grace note a step above, taking the first step of the note
            out.append((onset, 1, pitch + 2))
            onset, duration = onset + 1, duration - 1
        out.append((onset, duration, pitch))
    notes = np.zeros(len(out), NOTE_DTYPE)
    notes["onset"], notes["duration"], notes["pitch"] = zip(*out, strict=True)
    notes["velocity"] = 80
    query = Piece(notes=notes, tracks=[Track("Fiddle")], source="ornamented.mid")
    n_graces = len(out) - 40
    assert n_graces >= 3

    def labelled(**options):
        report = analyze([query], Index.build(reference), jobs=1, show_progress=False, originality=False, **options)
        (record,) = report.piece_records
        return record.copied_fraction + record.varied_fraction

    assert labelled() < 0.95
    assert labelled(max_edits=4) == 1.0
    folder = tmp_path / "q"
    folder.mkdir()
    write_midi(query, folder / "ornamented.mid")
    ref = tmp_path / "ref"
    ref.mkdir()
    write_midi(source, ref / "source.mid")
    result = CliRunner().invoke(
        app, ["analyze", str(folder), "--against", str(ref), "-o", str(tmp_path / "out"), "--max-edits", "4", "-j", "1", "--no-originality"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "report.json").read_text())["params"]["config"]["match"]["max_edits"] == 4


def test_a_humanized_drum_track_does_not_make_a_score_look_performed():
    """Drums played in (their onsets anywhere) under a melody on the grid: only pitched notes count."""
    melody = [(480 * i, bytes([0x90, 60 + i % 5, 80])) for i in range(16)]
    melody += [(480 * i + 400, bytes([0x80, 60 + i % 5, 0])) for i in range(16)]
    rng = np.random.default_rng(1)
    drums = [(int(t), b"\x99\x24\x64") for t in np.sort(rng.integers(0, 7000, 30))]
    drums += [(int(t) + 30, b"\x89\x24\x00") for t, _ in drums]
    events = sorted(melody + drums, key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90))
    piece = midi_bytes_to_piece(smf(encode_track(events), fmt=0))
    assert "off_grid" not in piece.metadata


def test_a_piece_with_no_line_to_analyse_counts_in_no_measure():
    """A fresh tester's damaged file read as 2 notes: no line long enough to analyse, so its shares were
    left out of the means (n = 8) while its longest copy (0), fan-in (0) and originality were counted
    (n = 9), pulling those means down. Every measure now leaves it out."""
    from remixmusic.music.notes import NOTE_DTYPE, Piece, Track
    from remixmusic.novelty.report import MEASURES

    reference = test_match.reference.__wrapped__(test_match.essen.__wrapped__())  # type: ignore[attr-defined]
    whole = reference[0]
    tiny_notes = np.zeros(2, NOTE_DTYPE)
    tiny_notes["onset"], tiny_notes["duration"], tiny_notes["pitch"], tiny_notes["velocity"] = [0, 12], 12, [60, 62], 80
    tiny = Piece(notes=tiny_notes, tracks=[Track("x")], source="fragment.mid")
    report = analyze([whole, tiny], Index.build(reference), jobs=1, show_progress=False, originality=True)
    full, empty = report.piece_records
    assert empty.n_line_notes == 0 and full.n_line_notes > 0
    assert all(np.isnan(empty.measure(name)) for name, _ in MEASURES)
    assert empty.measure("n_notes") == 2
    row = next(r for r in report.measure_table() if r["measure"] == "longest_copied_notes")
    assert row["query"] == full.longest_copied_notes


def _ratio_symbols(onsets: np.ndarray) -> np.ndarray:
    """The snapped inter-onset ratio of each three successive distinct onsets (what matching compares)."""
    from remixmusic.novelty.symbols import _RATIO_EDGES

    ioi = np.diff(np.unique(onsets)).astype(np.float64)
    return np.searchsorted(_RATIO_EDGES, np.log2(ioi[1:] / ioi[:-1]))


def test_a_performance_requantized_on_its_tracked_beat_keeps_the_scores_rhythm():
    """Melodies played at 110 or 95 qpm in a 120 qpm file, with 12-20 ms of jitter: read on the file's
    beat, a third or more of their inter-onset ratios differ from the score's; on the tracked beat (a
    dotted rhythm in 3/4 and a 6/4 tune of quarters and halves among them) at least 95% agree."""
    from remixmusic.music.beats import requantize

    reference = test_match.reference.__wrapped__(test_match.essen.__wrapped__())  # type: ignore[attr-defined]
    sources = [p for p in reference if len(_melody(p)) >= 48][:6]
    for k, source in enumerate(sources):
        rows = _melody(source)[:48]
        want = _ratio_symbols(rows["onset"])
        for factor, jitter in ((120 / 110, 12.0), (120 / 95, 20.0)):
            performed = midi_bytes_to_piece(_played(rows, factor, jitter, seed=k), source="take.mid")
            tracked = requantize(performed)
            assert tracked.metadata["tracked_qpm"] > 0 and len(tracked.notes) == len(performed.notes)
            agree = np.mean(_ratio_symbols(tracked.notes["onset"]) == want)
            assert agree >= 0.95, (k, factor, agree, np.mean(_ratio_symbols(performed.notes["onset"]) == want))
    few = midi_bytes_to_piece(_played(_melody(sources[0])[:5], 1.1, 10.0), source="five.mid")
    assert requantize(few) is few  # too few onsets to track a beat in


def test_tracked_timing_finds_performed_copies_and_leaves_scores_alone(tmp_path):
    """``--timing tracked``: a dotted tune played at 110 qpm in a 120 qpm file is found whole with its
    source (read on the file's beat, 10 of its 48 notes); a score on the grid is analysed as it is."""
    import json

    from typer.testing import CliRunner

    from remixmusic.cli import app

    reference = test_match.reference.__wrapped__(test_match.essen.__wrapped__())  # type: ignore[attr-defined]
    index = Index.build(reference)
    dotted = next(
        p for p in reference if len(_melody(p)) >= 48 and 9 in np.diff(_melody(p)["onset"][:48]).tolist()
    )
    rows = _melody(dotted)[:48]
    performed = midi_bytes_to_piece(_played(rows, 120 / 110, 12.0, seed=4), source="take.mid")
    score = midi_bytes_to_piece(_played(rows, 1.0, 0.0), source="score.mid")

    def longest(report, name):
        spans = [
            p.end_note - p.start_note
            for p in report.passage_records
            if p.piece == name and p.label in ("copied", "varied") and dotted.source in p.sources.split(";")
        ]
        return max(spans, default=0)

    as_read = analyze([performed, score], index, jobs=1, show_progress=False, originality=False)
    tracked = analyze([performed, score], index, jobs=1, show_progress=False, originality=False, timing="tracked")
    assert longest(as_read, "take.mid") < 40 and longest(tracked, "take.mid") == 48
    assert longest(tracked, "score.mid") == longest(as_read, "score.mid") == 48
    assert "re-quantized on a tracked beat" in tracked.off_grid_warning()
    assert "--timing tracked" in as_read.off_grid_warning()

    folder, ref = tmp_path / "q", tmp_path / "ref"
    folder.mkdir()
    ref.mkdir()
    (folder / "take.mid").write_bytes(_played(rows, 120 / 110, 12.0, seed=4))
    (ref / "source.mid").write_bytes(_played(rows, 1.0, 0.0))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["analyze", str(folder), "--against", str(ref), "-o", str(out), "--timing", "tracked", "-j", "1", "--no-originality"]
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "report.json").read_text())
    assert saved["params"]["config"]["timing"] == "tracked"
    assert saved["pieces"][0]["copied_fraction"] + saved["pieces"][0]["varied_fraction"] >= 0.95


def test_a_saved_index_of_performances_records_its_timing(tmp_path):
    """``remixmusic index --timing tracked``: a reference of performances re-quantized once, saved with
    its timing (an older index reads as ``file``), and reported; a score of the tune played is found
    whole against it, as a performance of it is with ``--timing tracked``."""
    from typer.testing import CliRunner

    from remixmusic.cli import app

    reference = test_match.reference.__wrapped__(test_match.essen.__wrapped__())  # type: ignore[attr-defined]
    dotted = next(
        p for p in reference if len(_melody(p)) >= 48 and 9 in np.diff(_melody(p)["onset"][:48]).tolist()
    )
    rows = _melody(dotted)[:48]
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "take.mid").write_bytes(_played(rows, 120 / 110, 12.0, seed=4))
    for k, other in enumerate(p for p in reference[:6] if p is not dotted):
        (ref / f"other{k}.mid").write_bytes(_played(_melody(other)[:40], 1.0, 0.0))
    result = CliRunner().invoke(app, ["index", str(ref), "-o", str(tmp_path / "idx"), "--timing", "tracked", "-j", "1"])
    assert result.exit_code == 0, result.output
    index = Index.load(tmp_path / "idx")
    assert index.timing == "tracked"
    score = midi_bytes_to_piece(_played(rows, 1.0, 0.0), source="score.mid")
    report = analyze([score], index, jobs=1, show_progress=False, originality=False)
    assert report.params["reference_timing"] == "tracked"
    assert report.piece_records[0].copied_fraction == 1.0
    untracked = analyze([score], Index.build([midi_bytes_to_piece(_played(rows, 120 / 110, 12.0, seed=4), "take.mid")]), jobs=1, show_progress=False, originality=False)
    assert untracked.piece_records[0].copied_fraction < 0.9
    assert Index.load(Path(__file__).parent / "data" / "legacy" / "index").timing == "file"
