"""Melodic lines and symbol streams: skyline and voices, drums, the n-notes-to-symbols mapping, and the
invariances (transposition, tempo) as properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic.errors import RemixError
from remixmusic.music.lines import BASS_VOICE, MERGED_TRACK, extract_lines, melody_indices
from remixmusic.music.notes import NOTE_DTYPE, Piece, Track
from remixmusic.novelty.symbols import ALPHABET_SIZE, INVARIANCES, ORDER, encode, piece_streams


def chords_piece() -> Piece:
    """Track 0: three-note chords at 0 and 12, a single note at 24; track 1: drums; track 2: a bass line."""
    rows = [
        (0, 12, 60, 0, False),
        (0, 12, 64, 0, False),
        (0, 12, 67, 0, False),
        (12, 12, 62, 0, False),
        (12, 12, 65, 0, False),
        (12, 12, 69, 0, False),
        (24, 12, 72, 0, False),
        (0, 6, 36, 1, True),
        (6, 6, 38, 1, True),
        (0, 24, 48, 2, False),
        (24, 24, 43, 2, False),
    ]
    notes = np.zeros(len(rows), NOTE_DTYPE)
    for i, (onset, dur, pitch, track, drum) in enumerate(rows):
        notes[i] = (onset, dur, pitch, 80, track, 0, drum, 0)
    return Piece(notes=notes, tracks=[Track("chords"), Track("drums", is_drum=True), Track("bass", 33)])


def test_skyline_takes_the_top_note_per_onset_per_track_and_skips_drums():
    piece = chords_piece()
    lines = extract_lines(piece, "skyline")
    assert [(line.track, line.voice) for line in lines] == [(0, 0), (2, 0)]
    assert piece.notes["pitch"][lines[0].notes].tolist() == [67, 69, 72]
    assert piece.notes["pitch"][lines[1].notes].tolist() == [48, 43]
    with_drums = extract_lines(piece, "skyline", include_drums=True)
    assert [line.track for line in with_drums] == [0, 1, 2]


def test_melody_merges_tracks_and_skips_notes_under_a_held_top_note():
    piece = chords_piece()
    (line,) = extract_lines(piece, "melody")
    assert line.track == MERGED_TRACK
    assert piece.notes["pitch"][line.notes].tolist() == [67, 69, 72]
    # Soprano holds a half note while the alto moves: the alto's second note is not melody.
    notes = np.zeros(4, NOTE_DTYPE)
    notes["onset"], notes["duration"], notes["pitch"], notes["track"] = (
        (0, 12, 0, 24),
        (24, 12, 12, 12),
        (72, 64, 65, 74),
        (0, 1, 1, 0),
    )
    voices = Piece(notes=notes, tracks=[Track("S"), Track("A")])
    (melody,) = extract_lines(voices, "melody")
    assert voices.notes["pitch"][melody.notes].tolist() == [72, 74]


def test_by_default_every_voice_of_every_track_is_a_line():
    piece = chords_piece()
    lines = extract_lines(piece)
    pitched = np.flatnonzero(~piece.notes["is_drum"])
    assert sorted(np.concatenate([line.notes for line in lines]).tolist()) == pitched.tolist()
    assert {line.track for line in lines} == set(piece.notes["track"][pitched].tolist())


def test_melody_does_not_depend_on_how_voices_are_spread_over_tracks():
    piece = chords_piece()
    one_track = piece.notes.copy()
    one_track["track"] = np.where(one_track["is_drum"], 1, 0)
    merged = Piece(notes=one_track, tracks=[Track("all"), Track("drums", is_drum=True)])
    for lines in ("melody", "merged-voices"):
        a = [piece.notes[line.notes].tolist() for line in extract_lines(piece, lines)]
        b = [merged.notes[line.notes][["onset", "pitch"]].tolist() for line in extract_lines(merged, lines)]
        assert [[(n[0], n[2]) for n in line] for line in a] == b


def test_voices_rank_chord_tones_from_the_top():
    piece = chords_piece()
    lines = [line for line in extract_lines(piece, "voices") if line.track == 0]
    assert [piece.notes["pitch"][line.notes].tolist() for line in lines] == [[67, 69, 72], [64, 65], [60, 62]]


def test_n_notes_give_n_minus_order_symbols_with_note_index():
    piece = chords_piece()
    for invariance in INVARIANCES:
        streams = piece_streams(piece, invariance)
        top = streams[0]
        assert len(top.symbols) == 3 - ORDER[invariance]
        assert top.note_index.tolist() == top.line.notes[: len(top.symbols)].tolist()
        assert top.symbols.dtype == np.int32
        assert np.all((top.symbols >= 0) & (top.symbols < ALPHABET_SIZE[invariance]))


def test_interval_and_ratio_symbols():
    pitch = np.array([60, 62, 59, 59])
    onset = np.array([0, 12, 18, 30])
    tt = encode(pitch, onset, np.full(4, 6), "transposed+tempo")
    rhythm = encode(pitch, onset, np.full(4, 6), "rhythm")
    # ratios 6/12 and 12/6 are different classes; intervals +2 and -3 differ.
    assert len(tt) == 2 and tt[0] != tt[1]
    assert rhythm.tolist() == [4, 10]  # indices of 1/2 and 2 in IOI_RATIOS
    assert encode(pitch, onset, np.full(4, 6), "contour").tolist() == [2 * 3 + 0, 0 * 3 + 2]


def test_unknown_invariance_or_line_mode_is_a_clear_error():
    with pytest.raises(RemixError, match="invariance"):
        piece_streams(chords_piece(), "pitch-class")
    with pytest.raises(RemixError, match="line mode"):
        extract_lines(chords_piece(), "bass")


@st.composite
def melodies(draw):
    n = draw(st.integers(3, 40))
    pitch = draw(st.lists(st.integers(30, 90), min_size=n, max_size=n))
    ioi = draw(st.lists(st.sampled_from([1, 2, 3, 4, 6, 8, 12, 18, 24, 36, 48]), min_size=n, max_size=n))
    dur = draw(st.lists(st.integers(1, 48), min_size=n, max_size=n))
    chord = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    rows = []
    onset = 0
    for p, i, d, c in zip(pitch, ioi, dur, chord, strict=True):
        rows.append((onset, d, p))
        if c:  # a lower chord tone: the skyline must ignore it
            rows.append((onset, d, p - c))
        onset += i
    notes = np.zeros(len(rows), NOTE_DTYPE)
    notes["onset"], notes["duration"], notes["pitch"] = zip(*rows, strict=True)
    notes["velocity"] = 80
    return Piece(notes=notes)


def _released(notes: np.ndarray) -> np.ndarray:
    """``notes`` with each one ending by the next onset (no note held over another's onset)."""
    onsets = np.unique(notes["onset"])
    following = np.append(onsets[1:], onsets[-1] + 48)[np.searchsorted(onsets, notes["onset"])]
    notes["duration"] = np.maximum(np.minimum(notes["duration"], following - notes["onset"]), 1)
    return notes


def _symbols(piece: Piece, invariance: str) -> list[list[int]]:
    return [s.symbols.tolist() for s in piece_streams(piece, invariance, lines="voices")]


@settings(max_examples=60, deadline=None)
@given(melodies(), st.integers(-12, 12))
def test_transposing_leaves_interval_streams_unchanged(piece, semitones):
    moved = piece.transpose(semitones)
    for invariance in ("transposed", "transposed+tempo", "rhythm", "contour", "intervals"):
        assert _symbols(moved, invariance) == _symbols(piece, invariance)
    if semitones:
        assert _symbols(moved, "exact") != _symbols(piece, "exact")


@settings(max_examples=60, deadline=None)
@given(melodies(), st.sampled_from([2, 3]))
def test_scaling_time_leaves_tempo_invariant_streams_unchanged(piece, factor):
    notes = piece.notes.copy()
    notes["onset"] *= factor
    notes["duration"] *= factor
    slower = piece.with_notes(notes)
    for invariance in ("transposed+tempo", "rhythm", "contour"):
        assert _symbols(slower, invariance) == _symbols(piece, invariance)


@settings(max_examples=60, deadline=None)
@given(melodies(), st.randoms(use_true_random=False))
def test_any_new_rhythm_leaves_the_interval_stream_unchanged(piece, rnd):
    """``intervals``: the same pitches in other note values (onsets in the same order) are one stream;
    no other invariance ignores rhythm that far. (Voices move together here, each note ending by the
    next onset: a note held over another's onset keeps its voice, which depends on the note values.)"""
    notes = _released(piece.notes.copy())
    piece = piece.with_notes(notes)
    onsets = np.unique(notes["onset"])
    new = np.cumsum([0] + [rnd.choice([1, 3, 5, 7, 12, 20]) for _ in onsets[1:]])
    notes["onset"] = new[np.searchsorted(onsets, notes["onset"])]
    retimed = piece.with_notes(_released(notes))
    assert _symbols(retimed, "intervals") == _symbols(piece, "intervals")


@st.composite
def polyphony(draw):
    """Overlapping notes of any pitch, onset and duration (the melody's input), at most 30."""
    n = draw(st.integers(1, 30))
    notes = np.zeros(n, NOTE_DTYPE)
    notes["onset"] = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    notes["duration"] = draw(st.lists(st.integers(1, 40), min_size=n, max_size=n))
    notes["pitch"] = draw(st.lists(st.integers(40, 80), min_size=n, max_size=n))
    return Piece(notes=notes).notes


@settings(max_examples=80, deadline=None)
@given(polyphony())
def test_melody_is_the_highest_sounding_note_at_each_onset(notes):
    onset, end, pitch = notes["onset"], notes["onset"] + notes["duration"], notes["pitch"]
    expected = []
    for t in np.unique(onset):
        sounding = (onset <= t) & (end > t)
        top = pitch[sounding].max()
        expected.append(
            int(np.flatnonzero((onset == t) & (pitch == top))[0]) if top in pitch[onset == t] else -1
        )
    assert melody_indices(notes).tolist() == [i for i in expected if i >= 0]


def test_melody_of_a_piece_with_a_stray_note_hours_later_needs_no_huge_map():
    notes = np.zeros(4, NOTE_DTYPE)
    notes["onset"] = [0, 12, 24, 2_000_000_000]  # about 4,600 hours at 120 qpm
    notes["duration"] = 12
    notes["pitch"] = [60, 62, 64, 65]
    assert melody_indices(Piece(notes=notes).notes).tolist() == [0, 1, 2, 3]


@settings(max_examples=200, deadline=None)
@given(polyphony(), st.lists(st.integers(0, 2), min_size=30, max_size=30), st.sampled_from(["voices", "merged-voices"]))
def test_every_note_is_on_one_line_whose_onsets_rise(notes, tracks, mode):
    """Whatever the overlaps (held notes, unisons, legato, notes of one onset with other lengths), the
    voices of a track are monophonic lines: onsets strictly increasing, every note on exactly one."""
    notes = notes.copy()
    notes["track"] = tracks[: len(notes)]
    piece = Piece(notes=notes, tracks=[Track(f"t{k}") for k in range(3)])
    lines = extract_lines(piece, mode)
    for line in lines:
        assert np.all(np.diff(piece.notes["onset"][line.notes]) > 0)
    assert sorted(int(i) for line in lines for i in line.notes) == list(range(len(piece.notes)))


def test_a_voice_moving_under_a_held_note_keeps_its_line():
    """Four voices written into one track, the soprano holding a half note while the alto moves in
    quarters: the alto's second quarter stays on the alto's line (ranked under the held soprano), as
    it is when each voice has a track of its own; the bass is the track's bass line."""
    rows = [  # onset, duration, pitch: soprano 72 (half note), alto 67-65, tenor 60, bass 48 (halves)
        (0, 24, 72), (0, 12, 67), (0, 24, 60), (0, 24, 48), (12, 12, 65),
        (24, 24, 71), (24, 24, 67), (24, 24, 62), (24, 24, 43),
    ]
    notes = np.zeros(len(rows), NOTE_DTYPE)
    notes["onset"], notes["duration"], notes["pitch"] = zip(*rows, strict=True)
    piece = Piece(notes=notes, tracks=[Track("SATB")])
    lines = {line.voice: piece.notes["pitch"][line.notes].tolist() for line in extract_lines(piece)}
    assert lines == {0: [72, 71], 1: [67, 65, 67], 2: [60, 62], BASS_VOICE: [48, 43]}


def test_the_bass_of_a_texture_whose_voices_come_and_go_keeps_one_line():
    """One track of chorale-like writing: soprano and bass in every chord, alto and tenor in some, each
    voice in its own rhythm. Ranked from the top the bass moved between the second, third and fourth
    lines as the inner voices came and went (a tester found 1 of 12 bass copies); it is one line, the
    bass, under a bass note held through a moving upper voice too; the soprano keeps the top line."""
    rows = [  # onset, duration, pitch
        (0, 12, 72), (0, 24, 48),  # S + B (the bass held for two beats)
        (12, 12, 74), (12, 12, 64),  # S + A over the held bass
        (24, 12, 76), (24, 12, 67), (24, 12, 60), (24, 12, 50),  # S A T B
        (36, 12, 74), (36, 6, 52), (42, 6, 53),  # S + B in eighths
        (48, 24, 72), (48, 12, 64), (48, 24, 55),  # S A B
        (60, 12, 62),  # the alto moves alone over the held soprano and bass
    ]
    notes = np.zeros(len(rows), NOTE_DTYPE)
    notes["onset"], notes["duration"], notes["pitch"] = zip(*rows, strict=True)
    piece = Piece(notes=notes, tracks=[Track("keyboard")])
    lines = {line.voice: piece.notes["pitch"][line.notes].tolist() for line in extract_lines(piece)}
    assert lines[BASS_VOICE] == [48, 50, 52, 53, 55]
    assert lines[0] == [72, 74, 76, 74, 72]
    # an inner voice entering while the bass still sounds (released 4 steps into the inner voice's long
    # note) is not the bass; a bass note overlapping the next by one step (legato) is still the bass
    rows = [(0, 16, 48), (0, 12, 72), (12, 24, 60), (12, 12, 74), (24, 13, 47), (24, 12, 76), (36, 12, 50), (36, 12, 74)]
    notes = np.zeros(len(rows), NOTE_DTYPE)
    notes["onset"], notes["duration"], notes["pitch"] = zip(*rows, strict=True)
    piece = Piece(notes=notes, tracks=[Track("keyboard")])
    lines = {line.voice: piece.notes["pitch"][line.notes].tolist() for line in extract_lines(piece)}
    assert lines[BASS_VOICE] == [48, 47, 50]


def test_block_chords_started_under_a_sounding_melody_note_are_not_melody():
    """A piano track: a melody in eighths and quarters on top, half-note triads under it. Where a melody
    note still sounds when a chord starts (and until the next melody note), the chord's top note took the
    melody's line (a fresh tester's copy came back with two insertions, 10 copied and 28 varied notes
    instead of 36 copied): the held note holds its voice there, and the track's chords are one in four
    onsets, too few for the track to count as chordal by itself."""
    melody = [(0, 6, 72), (6, 6, 74), (12, 6, 76), (18, 12, 77), (30, 6, 76), (36, 6, 74), (42, 12, 72)]
    melody += [(54, 6, 71), (60, 12, 72)]
    # the melody notes at 18 and 42 sound through the chords at 24 and 48 until the next melody notes
    chords = [(onset, 24, pitch) for onset in (0, 24, 48) for pitch in (48, 52, 55)]
    rows = sorted(melody + chords)
    notes = np.zeros(len(rows), NOTE_DTYPE)
    notes["onset"], notes["duration"], notes["pitch"] = zip(*rows, strict=True)
    piece = Piece(notes=notes, tracks=[Track("Piano")])
    top = next(line for line in extract_lines(piece) if line.voice == 0)
    assert piece.notes["pitch"][top.notes].tolist() == [72, 74, 76, 77, 76, 74, 72, 71, 72]
    # a melody track alone whose notes ring over the next (a legato touch, a pedal baked in) stays one line
    legato = np.zeros(4, NOTE_DTYPE)
    legato["onset"], legato["duration"], legato["pitch"] = [0, 12, 24, 36], 20, [72, 67, 71, 64]
    lines = extract_lines(Piece(notes=legato, tracks=[Track("Lead")]))
    assert [len(line.notes) for line in lines] == [4]


def test_a_dense_left_hand_under_a_piano_melody_in_one_track_keeps_the_melody_on_top():
    """A fresh tester's one-track piano piece: a melody over a half-note triad every two beats, so chords
    start at more than a third of the onsets and the track counts as chordal. A dotted quarter sounding
    when a triad starts, and released as the next melody note starts (before half the triad's length),
    did not hold its voice: the triad's top note took the melody's line and a planted 26-note copy was
    not found (same copy, chords in another track: found). Over a block chord, a note that sounds until
    the track's next onset holds its voice in chordal tracks too."""
    melody = [(0, 6, 73), (6, 12, 76), (18, 24, 83), (42, 3, 83), (45, 6, 83), (51, 6, 83), (57, 30, 83)]
    melody += [(87, 18, 76), (105, 12, 78), (117, 12, 71), (129, 18, 72), (147, 18, 70), (165, 18, 65)]
    chords = [(24 * k, 24, p + (k % 3)) for k in range(8) for p in (44, 48, 51)]
    lines = _lines_of(melody + chords, "Piano")
    assert lines[0] == [p for _, _, p in melody]


def _lines_of(rows, name="Lead") -> dict[int, list[int]]:
    notes = np.zeros(len(rows), NOTE_DTYPE)
    notes["onset"], notes["duration"], notes["pitch"] = zip(*rows, strict=True)
    piece = Piece(notes=notes, tracks=[Track(name)])
    return {line.voice: piece.notes["pitch"][line.notes].tolist() for line in extract_lines(piece)}


def test_a_legato_melody_over_a_sixteenth_bass_in_one_track_stays_the_top_line():
    """A code reviewer's case against a first version of the block-chord rule: a melody played 2 steps
    legato, each note struck with a note of an Alberti bass in 16ths. Melody-plus-bass pairs are no block
    chord, so the melody keeps voice 0 (the first version demoted 4 of its 8 notes)."""
    melody = [(0, 79), (12, 77), (24, 76), (30, 74), (36, 72), (48, 74), (72, 71), (84, 72)]
    rows = [(onset, 14, pitch) for onset, pitch in melody]
    rows += [(48 * b + 3 * k, 3, [48, 55, 52, 55][k % 4] - 5 * (b % 2)) for b in range(2) for k in range(16)]
    top = _lines_of(rows, "Piano")[0]
    assert [p for p in top if p >= 60] == [pitch for _, pitch in melody]


def test_a_melody_with_the_pedal_baked_in_keeps_its_double_stop_and_grace_notes_on_its_line():
    # notes ringing to the bar line, a double stop E5+C5: E5 continues the line, C5 under it
    assert _lines_of([(0, 48, 81), (12, 36, 79), (24, 24, 77), (36, 12, 76), (36, 12, 72), (48, 12, 74)]) == {
        0: [81, 79, 77, 76, 74],
        1: [72],
    }
    # a grace note struck with its main note, after a 1-step legato: the main note stays on the line
    assert _lines_of([(0, 13, 76), (12, 13, 74), (24, 1, 71), (24, 12, 72), (36, 12, 74)]) == {0: [76, 74, 72, 74], 1: [71]}
