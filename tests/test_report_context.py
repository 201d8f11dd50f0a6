"""What report.html says a passage sits in: line names, the source's other voices and its bars, checked
against the pieces themselves (issue 10)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from remixmusic.data.datasets import load_dataset
from remixmusic.music.lines import extract_lines
from remixmusic.music.notes import STEPS_PER_BEAT, Piece, Track
from remixmusic.novelty.context import line_names
from remixmusic.novelty.page.music import parse_bar_starts, parse_source_notes, parse_texture
from tests.page_report import page_report


def chorale() -> Piece:
    return load_dataset("bach-chorales").pieces("test")[0]


def test_chorale_lines_are_named_by_their_tracks_or_by_pitch_else_by_track_or_number():
    piece = chorale()  # four tracks named Soprano, Alto, Tenor, Bass
    assert [t.name for t in piece.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert line_names(piece, extract_lines(piece, "voices")) == ["Soprano", "Alto", "Tenor", "Bass"]
    # The same notes in one unnamed track, split into voices from the top (what the model writes).
    merged = replace(piece, tracks=[Track("")], notes=np.sort(piece.notes.copy(), order=["onset", "pitch"]))
    merged.notes["track"] = 0
    lines = extract_lines(merged, "voices")
    assert len(lines) == 4 and line_names(merged, lines) == ["Soprano", "Alto", "Tenor", "Bass"]
    # Four unnamed tracks: by pitch as well; Latin or German names too.
    unnamed = replace(piece, tracks=[Track("") for _ in range(4)])
    assert line_names(unnamed, extract_lines(unnamed, "voices")) == ["Soprano", "Alto", "Tenor", "Bass"]
    latin = replace(piece, tracks=[Track(n) for n in ("Cantus", "Altus", "Tenor", "Basso continuo")])
    assert line_names(latin, extract_lines(latin, "voices")) == ["Soprano", "Alto", "Tenor", "Bass"]
    # Four instruments keep their names; three lines are no chorale: their track names, else line N.
    quartet = replace(piece, tracks=[Track(n) for n in ("Violin I", "Violin II", "Viola", "Cello")])
    assert line_names(quartet, extract_lines(quartet, "voices")) == [
        "Violin I",
        "Violin II",
        "Viola",
        "Cello",
    ]
    three = piece.with_notes(piece.notes[piece.notes["track"] < 3])
    three = replace(three, tracks=[Track(""), Track("Oboe"), Track(""), Track("")])
    assert line_names(three, extract_lines(three, "voices")) == ["line 1", "Oboe", "line 3"]
    # Melody mode: one line of the whole piece.
    assert line_names(piece, extract_lines(piece, "melody")) == ["the melody"]


@pytest.fixture(scope="module")
def analysis():
    report, _ = page_report()
    reference = {f"{p.metadata['id']}.mid": p for p in load_dataset("bach-chorales").pieces("train")}
    return report, reference


def _in_piece(piece: Piece, onset: float, pitch: int) -> np.ndarray:
    """The notes of ``piece`` starting at ``onset`` (beats) with ``pitch``."""
    notes = piece.notes
    return np.flatnonzero((notes["onset"] == round(onset * STEPS_PER_BEAT)) & (notes["pitch"] == pitch))


def test_each_passage_names_its_line_and_its_sources_line_as_the_chorales_tracks_do(analysis):
    report, reference = analysis
    passages = [p for p in report.passage_records if p.source_names[0] in reference]
    assert passages
    for p in passages:
        assert p.line_name in ("Soprano", "Alto", "Tenor", "Bass")
        source = reference[p.source_names[0]]
        onset, pitch = parse_source_notes(p.source_notes)
        notes = {int(i) for o, q in zip(onset, pitch, strict=True) for i in _in_piece(source, o, q)}
        lines = extract_lines(source, "voices")
        holding = [k for k, ln in enumerate(lines) if notes & set(ln.notes.tolist())]
        # The index keeps no track names: a four-line source is named by pitch (as its tracks name it),
        # any other by its line's number.
        if len(lines) == 4:
            assert p.source_line_name in {source.tracks[lines[k].track].name for k in holding}
        else:
            assert p.source_line_name in {f"line {k + 1}" for k in holding}, (p.piece, p.passage)
    assert {p.source_line_name for p in passages} >= {"Soprano", "Bass"}


def test_the_source_texture_is_every_other_voice_of_the_source_bars(analysis):
    report, reference = analysis
    passages = [p for p in report.passage_records if p.source_names[0] in reference]
    for p in passages:
        source = reference[p.source_names[0]]
        notes = source.notes
        on = notes["onset"] / STEPS_PER_BEAT
        off = on + notes["duration"] / STEPS_PER_BEAT
        start, end = p.source_start_beat, p.source_end_beat
        texture = parse_texture(p.source_texture)
        _, line = parse_source_notes(p.source_notes)
        # Every note of the source piece that sounds in the span, matched line or not, is heard.
        sounding = np.flatnonzero((on < end - 1e-9) & (off > start + 1e-9))
        assert len(texture) + len(line) == len(sounding), (p.piece, p.passage)
        for o, d, q in texture:
            assert start <= o and o + d <= end + 1e-9 and d > 0
            assert np.any((on <= o + 1e-9) & (off > o) & (notes["pitch"] == q))


def test_source_bars_begin_where_the_source_piece_has_its_bars(analysis):
    report, reference = analysis
    for p in [p for p in report.passage_records if p.source_names[0] in reference]:
        source = reference[p.source_names[0]]
        first, last = (int(b) for b in p.source_bars.split(";")[0].split("-"))
        bars = parse_bar_starts(p.source_bar_starts)
        assert [b for b, _ in bars] == list(range(first, last + 1))
        starts = source.bar_starts(source.end + 1) / STEPS_PER_BEAT
        for b, beat in bars:
            assert beat == pytest.approx(
                max(starts[b - 1], float(source.notes["onset"].min()) / STEPS_PER_BEAT)
            )
