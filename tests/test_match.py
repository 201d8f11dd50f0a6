"""Matching against a reference index, on real folk tunes: planted exact and varied copies are found with
their sources, random and shuffled material is not, and folk variants find each other."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from remixmusic.music.lines import extract_lines
from remixmusic.music.notes import NOTE_DTYPE, Piece, Track
from remixmusic.novelty.index import Index
from remixmusic.novelty.match import Matcher, match_piece
from remixmusic.novelty.matches import VariedMatch

N_TUNES = 60
# Folk variants among the first 60 tunes of essenFolksong/altdeu10.abc (zero-based positions): "Zwei Wasser"
# / "Schwimmersage" (22-25) with one of the "Zwei Koenigskinder" tunes (27; the same swimmer ballad),
# "Das Schloss in Oesterreich" (28-30), "Laemmerweide" (54-55).
VARIANT_GROUPS = [[22, 23, 24, 25, 27], [28, 29, 30], [54, 55]]


@pytest.fixture(scope="module")
def essen() -> list[Piece]:
    """The first 60 tunes of one Essen collection file in music21's corpus (about 2,500 notes)."""
    from music21 import converter, corpus

    from remixmusic.io.music21 import score_to_piece

    path = next(Path(p) for p in corpus.getPaths() if Path(p).name == "altdeu10.abc")
    records = re.split(r"\n(?=X:)", path.read_text(encoding="latin-1"))[1 : N_TUNES + 1]
    opus = converter.parse("\n".join(records), format="abc")
    return [score_to_piece(s, source=f"altdeu10-{i:02d}.abc") for i, s in enumerate(opus.scores)]


@pytest.fixture(scope="module")
def reference(essen) -> list[Piece]:
    """Tunes with no variant among the others, so each planted fragment has exactly one true source."""
    variants = {i for group in VARIANT_GROUPS for i in group} | {26, 27}
    return [p for i, p in enumerate(essen[:50]) if i not in variants]


@pytest.fixture(scope="module")
def index(reference) -> Index:
    return Index.build(reference)


def _melody(piece: Piece) -> np.ndarray:
    return piece.notes[extract_lines(piece)[0].notes]


def _random_notes(rng: np.random.Generator, n: int) -> tuple[list[int], list[int]]:
    pitch = np.clip(int(rng.integers(55, 75)) + np.cumsum(rng.integers(-4, 5, n)), 45, 90)
    return pitch.tolist(), rng.choice([6, 12, 12, 18, 24], n).tolist()


def _edit(rng, pitch: list[int], onset: list[int], kind: str, k: int) -> None:
    """Apply one note edit at position k in place: change the pitch, delete the note, or insert one."""
    if kind == "change":
        pitch[k] += int(rng.choice([-3, -2, 2, 3]))
    elif kind == "delete":
        del pitch[k], onset[k]
    else:
        gap = onset[k + 1] - onset[k]
        pitch.insert(k + 1, pitch[k] + int(rng.choice([-1, 1, 2])))
        onset.insert(k + 1, onset[k] + max(1, gap // 2))


def plant(rng, reference, n_fragments=4, lengths=(8, 16), edits=0, kinds=("change", "delete", "insert")):
    """A piece of random filler with transposed, tempo-scaled fragments of reference tunes spliced in.

    Returns the piece and, per fragment, (first query note, end query note, reference piece, first
    reference melody note, end reference melody note).
    """
    pitches: list[int] = []
    onsets: list[int] = []
    truth = []
    t = 0

    def filler():
        nonlocal t
        p, ioi = _random_notes(rng, int(rng.integers(8, 17)))
        for a, b in zip(p, ioi, strict=True):
            pitches.append(a)
            onsets.append(t)
            t += b

    filler()
    for _ in range(n_fragments):
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        r = int(rng.integers(len(reference)))
        while len(_melody(reference[r])) < length:
            r = int(rng.integers(len(reference)))
        mel = _melody(reference[r])
        s = int(rng.integers(0, len(mel) - length + 1))
        frag = mel[s : s + length]
        scale = rng.choice([1, 2]) if rng.random() < 0.5 else 1
        rel = (frag["onset"] - frag["onset"][0]).astype(np.int64)
        if rng.random() < 0.3 and np.all(rel % 2 == 0):
            rel //= 2  # twice as fast
        else:
            rel *= scale
        fp, fo = (frag["pitch"] + int(rng.integers(-5, 7))).tolist(), rel.tolist()
        positions = (
            sorted(rng.choice(np.arange(3, length - 4, 4), size=edits, replace=False)) if edits else []
        )
        for k in reversed(positions):
            _edit(rng, fp, fo, str(rng.choice(list(kinds))), int(k))
        q0 = len(pitches)
        pitches.extend(fp)
        onsets.extend(t + o for o in fo)
        t += fo[-1] + int(np.median(np.diff(fo)))
        truth.append((q0, len(pitches), r, s, s + length))
        filler()
    notes = np.zeros(len(pitches), NOTE_DTYPE)
    notes["pitch"], notes["onset"], notes["velocity"] = pitches, onsets, 80
    notes["duration"] = np.maximum(1, np.diff(np.append(onsets, onsets[-1] + 12)))
    return Piece(notes=notes, tracks=[Track("planted")]), truth


def _overlap(a0, a1, b0, b1) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def test_planted_copies_are_recovered_with_source_and_span(index, reference):
    rng = np.random.default_rng(0)
    matcher = Matcher(index)
    true_pos = false_pos = recovered = total = 0
    for _ in range(12):
        query, truth = plant(rng, reference)
        pm = matcher.match_piece(query)
        found = set()
        for m in pm.matches:
            if m.stock:
                continue
            q0, q1 = m.start, m.start + m.n_notes
            hits = [
                f
                for f, (a, b, r, s, e) in enumerate(truth)
                if _overlap(q0, q1, a, b) >= 0.8 * (q1 - q0)
                and any(
                    src.piece == r and _holds(index, reference[r], src, s + m.start - a, m.length)
                    for src in m.sources
                )
            ]
            true_pos += bool(hits)
            false_pos += not hits
            found.update(hits)
        recovered += len(found)
        total += len(truth)
    assert true_pos / (true_pos + false_pos) >= 0.95
    assert recovered / total >= 0.95


def _holds(index: Index, piece: Piece, source, start: int, length: int) -> bool:
    """Whether the reported source span holds the planted symbols (melody symbols ``start ..``), which
    also accepts a repeat of the phrase elsewhere in the same tune."""
    stream = index.streams(piece)[0]
    at = int(np.flatnonzero(stream.line.notes == source.note_first)[0])
    planted = stream.symbols[max(start, 0) : start + length]
    return len(planted) > 0 and np.array_equal(stream.symbols[at : at + len(planted)], planted)


def test_transposition_of_a_planted_copy_is_reported(index, reference):
    mel = _melody(reference[3])[:14]
    notes = np.zeros(len(mel), NOTE_DTYPE)
    notes["pitch"] = mel["pitch"] + 5
    notes["onset"] = (mel["onset"] - mel["onset"][0]) * 2
    notes["duration"] = mel["duration"] * 2
    pm = match_piece(Piece(notes=notes), index)
    assert pm.matches and pm.matches[0].sources[0].piece == 3
    assert pm.matches[0].sources[0].transposition == 5
    assert pm.copied.all() and pm.longest.min() == len(mel)
    assert np.all(pm.longest_source == 3) and np.all(pm.transposition == 5)


def test_random_and_shuffled_material_shows_near_zero_coverage(index, reference):
    rng = np.random.default_rng(1)
    matcher = Matcher(index, near=False)
    copied = analyzed = 0
    for piece in reference[:20]:
        shuffled = piece.notes.copy()
        mel = _melody(piece)
        perm = rng.permutation(len(mel))
        shuffled = np.zeros(len(mel), NOTE_DTYPE)
        shuffled["pitch"], shuffled["onset"], shuffled["duration"] = mel["pitch"][perm], mel["onset"], 6
        for query in (Piece(notes=shuffled), _random_piece(rng, 100)):
            pm = matcher.match_piece(query)
            copied += int(pm.copied.sum())
            analyzed += int(pm.in_line.sum())
    assert copied / analyzed < 0.03
    assert index.chance_length >= 2


def test_random_and_shuffled_material_gets_no_varied_copies_however_wide_the_search(index, reference):
    """Many seeds and chains give chance alignments many tries; a varied copy's bit score pays for its
    edits (the information they spoil and the patterns they could take), so none passes."""
    rng = np.random.default_rng(3)
    matcher = Matcher(index, max_seed_occurrences=1024, max_chains=2048)
    varied = analyzed = 0
    for piece in reference[:20]:
        mel = _melody(piece)
        shuffled = np.zeros(len(mel), NOTE_DTYPE)
        ioi = rng.permutation(np.maximum(np.diff(mel["onset"].astype(np.int64)), 1))
        shuffled["pitch"] = mel["pitch"][0] + np.r_[0, np.cumsum(rng.permutation(np.diff(mel["pitch"].astype(int))))]
        shuffled["onset"], shuffled["duration"] = np.r_[0, np.cumsum(ioi)], 6
        for query in (Piece(notes=shuffled), _random_piece(rng, 100)):
            pm = matcher.match_piece(query)
            varied += int((pm.varied & ~pm.copied).sum())
            analyzed += int(pm.in_line.sum())
    assert analyzed > 2000 and varied == 0  # with the edits free of charge: 8 notes


def _random_piece(rng, n: int) -> Piece:
    pitch, ioi = _random_notes(rng, n)
    notes = np.zeros(n, NOTE_DTYPE)
    notes["pitch"], notes["onset"], notes["duration"] = pitch, np.cumsum(ioi), ioi
    return Piece(notes=notes)


@pytest.mark.parametrize("edits", [1, 2])
def test_varied_copies_are_found_with_source_and_edit_count(index, reference, edits):
    # 16 to 20 notes: a varied copy is scored by the information it reproduces less the freedom of its
    # edits, and two edits in 13 notes leave too little to tell from chance in a 100-note query.
    rng = np.random.default_rng(10 + edits)
    matcher = Matcher(index)
    right = right_edits = total = 0
    for _ in range(10):
        query, truth = plant(rng, reference, lengths=(16, 20), edits=edits)
        pm = matcher.match_piece(query)
        for a, b, r, _s, _e in truth:
            total += 1
            hits = [
                v for v in pm.varied_matches if v.source.piece == r and _overlap(v.start, v.end, a, b) > 0
            ]
            right += bool(hits)
            right_edits += any(v.edits == edits for v in hits)
            assert all(v.edits <= matcher.config.max_edits for v in pm.varied_matches)
    assert right / total >= 0.9
    assert right_edits / total >= 0.8


def test_a_deleted_note_costs_about_one_note_of_evidence(index, reference):
    """Across a deleted note the reference symbols that read it are lost (three of order 2), but the
    query's symbols over the notes on either side are fixed by the reference as well and count (two),
    so short copies with two deletions (11 to 13 notes left) are found. Scoring only the reference's
    intact symbols found 5 of these 40."""
    assert _two_edit_recall(index, reference, 21, (13, 15), "delete") >= 0.8


def _two_edit_recall(index, reference, seed: int, lengths: tuple[int, int], kind: str) -> float:
    """Share of 40 planted copies (10 queries of 4) with two edits of ``kind`` found as a varied copy of
    their source covering at least 80% of them."""
    rng = np.random.default_rng(seed)
    matcher = Matcher(index)
    hits = total = 0
    for _ in range(10):
        query, truth = plant(rng, reference, lengths=lengths, edits=2, kinds=(kind,))
        pm = matcher.match_piece(query)
        for a, b, r, _s, _e in truth:
            total += 1
            hits += any(
                v.source.piece == r and _overlap(v.start, v.end, a, b) >= 0.8 * (b - a) for v in pm.varied_matches
            )
    return hits / total


def test_a_changed_note_keeps_the_rhythm_around_it_and_the_interval_over_it(index, reference):
    """A note changed in pitch at its time spoils the intervals on either side of it, not the rhythm
    around it nor the interval between its two neighbours: scored by parts (interval and inter-onset
    ratio apart, and the two-step interval across the note), short copies with two changed notes (12 to
    14 notes) are found. Scoring whole symbols only found 6 of these 40."""
    assert _two_edit_recall(index, reference, 31, (12, 14), "change") >= 0.7


def test_a_quote_of_the_next_phrase_at_another_tempo_does_not_set_the_copys_tempo(index, reference):
    """A varied copy (16 notes, one deleted) followed two notes later by the source's next notes at half
    the speed: the second quote is an exact run on a nearby diagonal of the same reference line, so it
    ends the seed chain, and the tempo read from the anchor to it is wrong for the copy. The copy's own
    first run fixes its tempo; the alignment keeps whichever tempo aligns more notes."""
    mel = next(_melody(p) for p in reference if len(_melody(p)) >= 40)
    r = next(i for i, p in enumerate(reference) if len(_melody(p)) >= 40)
    rng = np.random.default_rng(4)
    pitch, ioi = _random_notes(rng, 12)
    onsets = np.cumsum([0, *ioi[:-1]]).tolist()
    t = onsets[-1] + ioi[-1]
    src = mel[2:19]
    keep = [k for k in range(17) if k != 6]  # reference note 8 of the tune left out
    rel = (src["onset"] - src["onset"][0]).astype(np.int64)
    pitch += (src["pitch"][keep] + 3).tolist()
    onsets += (t + rel[keep]).tolist()
    t = onsets[-1] + 2 * int(np.median(np.diff(rel)))
    pitch += [int(pitch[-1]) + 1, int(pitch[-1]) - 2]  # two notes of glue
    onsets += [t, t + 6]
    t += 12
    nxt = mel[21:29]  # the tune's next notes, at half speed
    rel2 = 2 * (nxt["onset"] - nxt["onset"][0]).astype(np.int64)
    pitch += (nxt["pitch"] + 3).tolist()
    onsets += (t + rel2).tolist()
    notes = np.zeros(len(pitch), NOTE_DTYPE)
    notes["pitch"], notes["onset"], notes["velocity"] = pitch, onsets, 80
    notes["duration"] = np.maximum(1, np.diff(np.append(onsets, onsets[-1] + 12)))
    pm = Matcher(index).match_piece(Piece(notes=notes, tracks=[Track("quotes")]))
    copy = (12, 12 + len(keep))
    assert any(
        v.source.piece == r and v.edits == 1 and _overlap(v.start, v.end, *copy) >= 0.9 * len(keep)
        for v in pm.varied_matches
    ), [(v.start, v.end, v.edits, v.source.piece) for v in pm.varied_matches]


def test_a_varied_copy_on_a_repeated_part_joins_the_exact_copy_at_the_other_occurrence(index, reference):
    """A tune that repeats a part (AABB): a varied copy's opening edits align as well with the repeat as
    with the first occurrence, and the varied copy was reported at the repeat while the exact rest of the
    copy, which goes on past the part into the first ending, is found at the first occurrence only. The
    two never joined (different diagonals), and no passage covered the copy. The join moves the varied
    copy onto the exact part's occurrence and realigns the whole as one copy of the first occurrence."""
    from remixmusic.novelty.joins import merge_copies
    from remixmusic.novelty.symbols import piece_streams

    rng = np.random.default_rng(7)

    def part(n):
        pitch, ioi = _random_notes(rng, n)
        return pitch, ioi

    def piece_of(parts):
        pitches, onsets, t = [], [], 0
        for pitch, ioi in parts:
            for a, b in zip(pitch, ioi, strict=True):
                pitches.append(int(a))
                onsets.append(t)
                t += int(b)
        notes = np.zeros(len(pitches), NOTE_DTYPE)
        notes["pitch"], notes["onset"], notes["velocity"] = pitches, onsets, 80
        notes["duration"] = np.maximum(1, np.diff(np.append(onsets, onsets[-1] + 12)))
        return Piece(notes=notes, tracks=[Track("tune")])

    a, first, second, x = part(16), part(10), part(10), part(6)
    tune = piece_of([x, a, first, x, a, second])  # x A 1 x A 2: A at notes 6..21 and 38..53
    ref = Index.build([*reference, tune])
    changed = (list(a[0]), list(a[1]))
    changed[0][4] += 2  # one note of A changed
    filler = part(10)
    query = piece_of([filler, changed, first, part(10)])  # the copy: query notes 10..35
    matcher = Matcher(ref)
    (stream,) = piece_streams(query, ref.invariance, ref.lines)
    line0 = int(ref.line_offsets[ref.n_pieces - 1])  # the tune is the last piece, one line
    occurrence_1, occurrence_2 = line0 + 6, line0 + 38
    # The exact rest of the copy (A from its note 6, then the first ending) sits at occurrence 1 only;
    # the varied copy of A's opening (two notes past the change) was aligned at occurrence 2.
    exact = [(16, 36, np.array([occurrence_1 + 6]))]
    source = matcher._source(occurrence_2, 14, int(query.notes["pitch"][10]))
    varied = [VariedMatch(0, 10, 24, stream.line.notes[10:24], 1, 13, 40.0, [source], script="change@14")]
    matcher._varied_bits_now = matcher.piece_min_bits(len(stream.symbols), varied=True)
    joined = merge_copies(matcher, 0, stream, query, exact, varied)
    # One copy of occurrence 1 (the exact match's last note is left free in pitch, so it may end a note early).
    assert [(v.start, v.edits, v.source.slot) for v in joined] == [(10, 1, occurrence_1)]
    assert joined[0].end >= 35


def test_folk_variants_are_top_sources(essen):
    for group in VARIANT_GROUPS:
        for q in group[:2]:
            others = [i for i in range(len(essen)) if i != q]
            ranking = match_piece(essen[q], Index.build([essen[i] for i in others])).source_ranking()
            assert ranking and others[ranking[0][0]] in group, (q, ranking[:3])


def test_varied_copies_list_every_variant_in_the_reference(essen):
    """The swimmer ballad has five variants: each variant's copies (exact or varied) come from the
    others only, and its varied copies list several of them, best first, each once. (One variant's only
    edits sit in a short stretch between two long exact copies: the stretch adds too little evidence to
    pay for its edits, so its copies are the exact ones.)"""
    group = VARIANT_GROUPS[0]
    n_varied = 0
    for q in group:
        others = [i for i in range(len(essen)) if i != q]
        pm = match_piece(essen[q], Index.build([essen[i] for i in others]))
        varied = [[others[s.piece] for s in v.sources] for v in pm.varied_matches]
        exact = [[others[s.piece] for s in m.sources] for m in pm.matches if not m.stock]
        assert exact + varied and all(set(s) <= set(group) for s in exact + varied), (q, exact, varied)
        assert all(len(set(s)) == len(s) for s in varied), (q, varied)
        n_varied += bool(varied) and max(len(s) for s in varied) >= 2
    assert n_varied >= 4


def test_per_note_arrays_and_coverage(index, reference):
    pm = match_piece(reference[5], index)
    n = len(reference[5].notes)
    assert all(len(a) == n for a in (pm.longest, pm.copied, pm.stock, pm.varied, pm.longest_source))
    assert pm.coverage(np.array([1]))[0] == 1.0  # a reference piece matches itself everywhere
    curve = pm.coverage(np.arange(1, 40))
    assert np.all(np.diff(curve) <= 0)
    assert pm.parameters["invariance"] == "transposed+tempo" and pm.min_length == index.chance_length + 2


@pytest.mark.parametrize("n_notes", [0, 1, 2, 3])
def test_pieces_too_short_for_any_symbol_match_cleanly(index, n_notes):
    notes = np.zeros(n_notes, NOTE_DTYPE)
    notes["onset"] = np.arange(n_notes) * 12
    notes["duration"] = 12
    notes["pitch"] = 60 + np.arange(n_notes)
    notes["velocity"] = 80
    result = match_piece(Piece(notes=notes, tracks=[Track()]), index)
    assert len(result.longest) == n_notes
    assert not result.copied.any()


def test_real_chordal_file_without_any_match_candidates(index):
    """music21's test05.mid (13 notes in chords) once crashed the per-note merge with empty covers."""
    import music21

    from remixmusic.io.midi import read_midi

    piece = read_midi(Path(music21.__file__).parent / "midi" / "testPrimitive" / "test05.mid")
    result = match_piece(piece, index)
    assert len(result.longest) == len(piece)


def test_matcher_settings_are_one_config_and_overrides_go_through_it(index, reference):
    from remixmusic.errors import ConfigError
    from remixmusic.novelty.config import MatchConfig

    config = MatchConfig(max_edits=1, max_chains=4)
    matcher = Matcher(index, config, near=False)
    assert matcher.config == config.replace(near=False).resolve(index)
    assert matcher.min_length == matcher.config.min_length == index.chance_length + 2
    # The same settings, given as one config or as overrides, give the same matches.
    by_config = Matcher(index, MatchConfig(near=False, max_edits=1, max_chains=4)).match_piece(reference[3])
    by_overrides = match_piece(reference[3], index, near=False, max_edits=1, max_chains=4)
    assert [(m.line, m.start, m.length) for m in by_config.matches] == [
        (m.line, m.start, m.length) for m in by_overrides.matches
    ] and by_config.matches
    assert not by_config.varied_matches  # near=False reached the matcher
    with pytest.raises(ConfigError, match="max_chain"):
        Matcher(index, max_chain=3)
    with pytest.raises(ConfigError, match="max_edits"):
        Matcher(index, max_edits=-1)
    with pytest.raises(ConfigError, match="MatchConfig"):
        Matcher(index, {"max_edits": 1})  # type: ignore[arg-type]


def test_a_tune_sung_to_another_rhythm_is_copied_under_intervals_only(index, reference):
    """A folk variant often keeps a tune's pitches and changes its rhythm (other note values, another
    meter). Under the default invariance its rhythm breaks every match; under ``intervals`` (pitch
    intervals alone) 24-note stretches of five tunes, each in a random new rhythm, are copies of their
    tune, and their random-walk surroundings are not."""
    by_intervals = Index.build(reference, invariance="intervals")
    rng = np.random.default_rng(4)
    found = {"transposed+tempo": 0, "intervals": 0}
    false_notes = 0
    for r in (3, 8, 15, 21, 33):
        mel = _melody(reference[r])
        frag = mel[:24]
        pitch, _ = _random_notes(rng, 20)
        pitches = pitch + (frag["pitch"] - int(frag["pitch"][0]) + pitch[-1] + 2).tolist() + pitch
        ioi = rng.choice([6, 12, 12, 18, 24, 36], len(pitches))
        notes = np.zeros(len(pitches), NOTE_DTYPE)
        notes["pitch"], notes["onset"], notes["duration"], notes["velocity"] = pitches, np.cumsum(ioi) - ioi[0], ioi, 80
        query = Piece(notes=notes)
        for inv, ix in (("transposed+tempo", index), ("intervals", by_intervals)):
            pm = Matcher(ix).match_piece(query)
            copied = pm.copied | pm.varied
            found[inv] += bool(copied[20:44].mean() >= 0.8) and any(
                s.piece == r for m in pm.matches if m.start < 44 and m.start + m.length > 20 for s in m.sources
            )
            if inv == "intervals":
                false_notes += int(copied[:20].sum() + copied[44:].sum())
    assert found == {"transposed+tempo": 0, "intervals": 5}
    assert false_notes <= 4


def test_a_retimed_copy_under_intervals_is_reported_without_a_rhythm_claim(reference):
    """Under ``intervals`` a copy may have another rhythm, so passages.csv and the page must not claim
    the same rhythm, and the source span ends where the source's own notes say: a tune's last 16 notes,
    sung with every note value doubled and some dotted, end in the source at its last onset plus its
    own last inter-onset interval (the index keeps no durations), not at the query's last note divided
    by the span ratio."""
    from remixmusic.music.notes import STEPS_PER_BEAT
    from remixmusic.novelty.analyze import analyze
    from remixmusic.novelty.page.rule import rule
    from remixmusic.novelty.page.words import transposition_text

    by_intervals = Index.build(reference, invariance="intervals", lines="melody")
    r = 8
    mel = _melody(reference[r])
    frag = mel[-16:]
    rng = np.random.default_rng(2)
    pitch, _ = _random_notes(rng, 12)
    pitches = pitch + (frag["pitch"] + 3).tolist()
    ioi = np.concatenate([rng.choice([6, 12, 18], 12), rng.choice([24, 36, 48], 16)])
    notes = np.zeros(len(pitches), NOTE_DTYPE)
    notes["pitch"], notes["onset"], notes["duration"], notes["velocity"] = pitches, np.cumsum(ioi) - ioi[0], ioi, 80
    report = analyze([Piece(notes=notes)], by_intervals, show_progress=False, jobs=1)
    ps = [p for p in report.passage_records if p.label in ("copied", "varied") and p.source_names]
    assert ps, "the retimed copy is found"
    p = max(ps, key=lambda p: p.n_notes)
    assert p.invariance == "intervals" and p.source_names[0] == reference[r].source
    # The source span ends at its own last note's onset plus its last inter-onset interval there.
    src_on = np.asarray([float(x.split(":")[0]) for x in p.source_notes.split(";")])
    last_ioi = src_on[-1] - src_on[-2]
    assert p.source_end_beat == pytest.approx(src_on[-1] + last_ioi)
    scaled = src_on[-1] + float(notes["duration"][p.notes[-1]]) / STEPS_PER_BEAT / p.time_scale
    assert p.source_end_beat != pytest.approx(scaled)
    # Words: no "same rhythm" under intervals, the invariance named in the rule.
    how = transposition_text(p.transposition, p.time_scale, "intervals")
    assert "rhythm not compared" in how and "same rhythm" not in how
    assert "same rhythm" in transposition_text(p.transposition, p.time_scale, "transposed+tempo")
    assert "pitches not compared" in transposition_text(3, 1.0, "rhythm")
    text = rule(report.params, report.piece_records)
    assert "whatever the rhythm, meter or tempo" in text and "(pitch intervals only, not rhythm)" in text
    assert "intervals and rhythm" not in text
    page = report.html()
    assert "rhythm not compared" in page and "same rhythm" not in page


def _changed_copy(rng, src: np.ndarray, shift: int, changed: tuple[int, ...], by: int) -> Piece:
    """12 random notes, then the melody notes ``src`` transposed by ``shift`` semitones, in their rhythm,
    with the notes at positions ``changed`` ``by`` semitones higher: one line, named ``copy``."""
    pitch, ioi = _random_notes(rng, 12)
    onsets = np.cumsum([0, *ioi[:-1]]).tolist()
    t = onsets[-1] + ioi[-1]
    fp = (src["pitch"] + shift).tolist()
    for k in changed:
        fp[k] += by
    pitch += fp
    onsets += (t + (src["onset"] - src["onset"][0])).tolist()
    notes = np.zeros(len(pitch), NOTE_DTYPE)
    notes["pitch"], notes["onset"], notes["velocity"] = pitch, onsets, 80
    notes["duration"] = np.maximum(1, np.diff(np.append(onsets, onsets[-1] + 12)))
    return Piece(notes=notes, tracks=[Track("copy")])


def test_a_lone_seed_of_a_varied_copy_outranks_chance_occurrences_of_its_seed(index, reference):
    """A varied copy with an edit every few notes leaves one exact seed run, and on a large reference each
    query seed has dozens of chance occurrences: only ``max_chains`` chains per line are aligned, and with
    the lone seeds tied on length the true one was often not among them (Essen seed 2 of the attribution
    benchmark: three copies of 14 to 18 notes scoring 50 bits and more, lost). Chains are ranked by an
    ungapped look past their exact part first: the copy's flanks agree with its source on a nearby
    diagonal, a chance occurrence's do not."""
    r = next(i for i, p in enumerate(reference) if len(_melody(p)) >= 40)
    mel = _melody(reference[r])
    rng = np.random.default_rng(11)
    src = mel[10:30]
    # changes leave exact runs of 5, 5 and 4 notes: one seed run at most
    piece = _changed_copy(rng, src, shift=2, changed=(5, 11, 16), by=3)
    matcher = Matcher(index)
    stream = index.streams(piece)[0]
    start = int(np.flatnonzero(np.asarray(index.piece) == r)[0]) + 10  # the source's slot of src[0]
    qa = 12 + 6  # the exact run after the first change: query notes 18-22, source notes 16-20
    # the same anchor against every other slot of the reference (pitch relative to the anchor)
    slots = np.arange(len(index.pitch))
    slots = slots[(np.asarray(index.piece)[slots] != r) & (np.asarray(index.piece)[slots] >= 0)][::7]
    sa = np.r_[start + 6, slots]
    line = index.line_of(sa)
    q_end = np.full(len(sa), qa + 5)
    hits = matcher._flank_hits(piece, stream, np.full(len(sa), qa), sa, q_end, line)
    assert hits[0] >= 10  # the copy's other notes (13 of 16 in the flanks agree)
    assert np.mean(hits[1:] >= hits[0]) < 0.001, np.sort(hits[1:])[-10:]


def test_a_varied_copy_of_common_figures_is_seeded_by_longer_rarer_seeds(reference):
    """In repetitive material (reels) every 3-symbol seed of a copy can be too common to follow (more than
    ``max_seed_occurrences``), and a copy with changed notes was lost for want of a seed. Seeds too
    common are extended until rare enough (adaptive seeds, Kiełbasa et al. 2011): here 8 reference pieces
    hold every 5-note figure of the source among random notes, so each 3-symbol seed of the copy occurs
    more than the 6 times allowed, but its 4- and 5-symbol prefixes only in the source; no run between the copy's edits is
    long enough to be an exact copy that could anchor it instead."""
    r = next(i for i, p in enumerate(reference) if len(_melody(p)) >= 40)
    mel = _melody(reference[r])
    src = mel[8:28]
    rng = np.random.default_rng(5)
    figures = []
    for k in range(8):
        pitch: list[int] = []
        onset: list[int] = []
        t = 0
        for a in rng.permutation(len(src) - 4):
            fig = src[a : a + 5]
            filler, _ = _random_notes(rng, 3)
            rel = (fig["onset"] - fig["onset"][0]).tolist()
            shift = int(rng.integers(-4, 5))
            pitch += [p + shift for p in fig["pitch"].tolist()] + filler
            onset += [t + o for o in rel] + [t + rel[-1] + 12 * (j + 1) for j in range(3)]
            t = onset[-1] + 12
        notes = np.zeros(len(pitch), NOTE_DTYPE)
        notes["pitch"], notes["onset"], notes["duration"], notes["velocity"] = pitch, onset, 6, 80
        figures.append(Piece(notes=notes, tracks=[Track("figures")], source=f"figures-{k}"))
    index = Index.build([*reference, *figures])
    matcher = Matcher(index, max_seed_occurrences=6)
    # two changed notes: exact runs of 6 notes, none an exact copy on its own
    query = _changed_copy(rng, src, shift=-3, changed=(6, 13), by=4)
    stream = index.streams(query)[0]
    common = index.matching_statistics(np.asarray(stream.symbols), record_depth=matcher.seed_length)
    seeds = (common[4] - common[3])[12 : 12 + len(src) - 4]
    clean = np.r_[0:2, 7:9, 14:16]  # seeds whose five notes miss the changed ones
    assert matcher.min_length + index.order > 6  # the runs between the changes are no exact copies
    assert (seeds[clean] > 6).all()  # every 3-symbol seed of the copy is too common
    pm = matcher.match_piece(query)
    hits = [v for v in pm.varied_matches if index.piece_names[v.source.piece] == reference[r].source]
    assert hits and max(_overlap(v.start, v.end, 12, 12 + len(src)) for v in hits) >= 0.9 * len(src)
