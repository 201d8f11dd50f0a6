"""REMI tokenizer: lossless round trips on the grid, grammar, alignment, transposition, configuration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remixmusic.errors import ConfigError, TokenizerError
from remixmusic.music.notes import NOTE_DTYPE, TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Piece, Track
from remixmusic.tokenizer.config import DRUM_PROGRAM, PITCH, PROGRAM, TEMPO, TokenizerConfig
from remixmusic.tokenizer.grammar import Grammar
from remixmusic.tokenizer.remi import RemiTokenizer

CONFIGS = {
    "default": TokenizerConfig(),
    "rich": TokenizerConfig(
        steps_per_beat=4,
        pitch_range=(30, 100),
        max_duration=60,
        max_bar_length=72,
        velocity_bins=8,
        use_programs=True,
        time_signature_denominators=(4, 8),
        tempo_bins=12,
    ),
    "plain": TokenizerConfig(use_time_signatures=False, steps_per_beat=6, max_duration=48),
}
TOKENIZERS = {name: RemiTokenizer(cfg) for name, cfg in CONFIGS.items()}


def assert_same_piece(a: Piece, b: Piece) -> None:
    np.testing.assert_array_equal(a.notes, b.notes)
    np.testing.assert_array_equal(a.time_signatures, b.time_signatures)
    np.testing.assert_array_equal(a.tempos, b.tempos)
    assert a.tracks == b.tracks


@st.composite
def pieces(draw: st.DrawFn) -> Piece:
    """Random pieces: several tracks (drums too), any pitch, overlapping and duplicate notes, random
    meter maps (changes anywhere, odd and over-long meters) and tempo maps."""
    n = draw(st.integers(0, 60))
    span = draw(st.integers(1, 700))
    ints = lambda lo, hi: st.lists(st.integers(lo, hi), min_size=n, max_size=n)  # noqa: E731
    notes = np.zeros(n, NOTE_DTYPE)
    notes["onset"] = draw(ints(0, span))
    notes["duration"] = draw(ints(1, 200))
    notes["pitch"] = draw(ints(0, 127))
    notes["velocity"] = draw(ints(1, 127))
    tracks = [Track("a", 0), Track("b", 40), Track("drums", 0, True), Track("c", 40)]
    notes["track"] = draw(ints(0, len(tracks) - 1))
    notes["program"] = [tracks[t].program for t in notes["track"]]
    notes["is_drum"] = [tracks[t].is_drum for t in notes["track"]]
    if n and draw(st.booleans()):  # chords and exact duplicates
        notes[n // 2 :]["onset"] = notes["onset"][0]
    meters = draw(
        st.lists(
            st.tuples(st.integers(0, span), st.integers(1, 20), st.sampled_from([1, 2, 4, 8, 16, 32])),
            max_size=4,
        )
    )
    tempos = draw(st.lists(st.tuples(st.integers(0, span), st.floats(10, 400)), max_size=3))
    return Piece(
        notes=notes,
        tracks=tracks,
        time_signatures=np.array(meters, TIME_SIGNATURE_DTYPE),
        tempos=np.array(tempos, TEMPO_DTYPE),
    )


@pytest.mark.parametrize("name", sorted(TOKENIZERS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(piece=pieces())
def test_round_trip_random_pieces(name: str, piece: Piece) -> None:
    tok = TOKENIZERS[name]
    canon = tok.canonicalize(piece)
    ids = tok.encode(piece)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert_same_piece(tok.decode(ids), canon)
    assert_same_piece(tok.canonicalize(canon), canon)
    np.testing.assert_array_equal(tok.encode(canon), ids)
    assert tok.is_valid(ids)
    # What the vocabulary promises about canonical notes.
    cfg, notes = tok.config, canon.notes
    assert ((notes["pitch"] >= cfg.pitch_range[0]) & (notes["pitch"] <= cfg.pitch_range[1])).all()
    assert ((notes["duration"] % tok.resolution == 0) & (notes["duration"] <= cfg.max_duration)).all()
    keys = np.stack([notes["onset"], notes["track"], notes["pitch"]], 1)
    assert len(np.unique(keys, axis=0)) == len(notes)
    starts = canon.bar_starts(int(notes["onset"].max()) + 1 if len(notes) else 0)
    rel = notes["onset"] - starts[np.searchsorted(starts, notes["onset"], "right") - 1]
    assert (rel % tok.resolution == 0).all()


def test_round_trip_keeps_grid_notes_exactly() -> None:
    """On the default config, a piece already on the grid in range loses nothing."""
    tok = TOKENIZERS["default"]
    notes = np.zeros(4, NOTE_DTYPE)
    notes["onset"] = [0, 5, 5, 40]  # 5 steps: a 32nd-note-triplet-ish offset the 12-step grid keeps
    notes["duration"] = [1, 7, 96, 13]
    notes["pitch"] = [21, 60, 64, 108]
    notes["velocity"] = 80
    ts = np.array([(0, 3, 4), (36, 7, 8)], TIME_SIGNATURE_DTYPE)
    piece = Piece(notes=notes, time_signatures=ts)
    decoded = tok.decode(tok.encode(piece))
    np.testing.assert_array_equal(decoded.notes, piece.notes)
    np.testing.assert_array_equal(decoded.time_signatures, ts)


def sample_sequence(grammar: Grammar, rng: np.random.Generator, eos_bias: float) -> np.ndarray:
    """A random walk through the grammar: a uniformly chosen legal token at each step."""
    state, ids = grammar.start(), []
    eos = grammar.tokenizer.eos_id
    while not ids or ids[-1] != eos:
        legal = np.nonzero(grammar.allowed(state))[0]
        assert len(legal), f"dead end after {ids}"
        token = eos if eos in legal and rng.random() < eos_bias else int(rng.choice(legal[legal != eos]))
        ids.append(token)
        state = grammar.advance(state, token)
    return np.array(ids)


@pytest.mark.parametrize("name", sorted(TOKENIZERS))
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_valid_sequences_survive_decode_encode(name: str, seed: int) -> None:
    tok = TOKENIZERS[name]
    rng = np.random.default_rng(seed)
    ids = sample_sequence(tok.grammar(), rng, eos_bias=0.02)
    assert tok.is_valid(ids)
    np.testing.assert_array_equal(tok.encode(tok.decode(ids)), ids)


def ids_of(tok: RemiTokenizer, text: str) -> list[int]:
    return [tok.str_to_token(s) for s in text.split()]


@pytest.mark.parametrize(
    "text",
    [
        "Bar TimeSig_4/4 Position_0 Pitch_60 Duration_12 EOS",  # no BOS
        "BOS Bar Position_0 Pitch_60 Duration_12 EOS",  # first bar without a meter
        "BOS Bar TimeSig_4/4 Position_3 Pitch_60 Duration_12 Position_3 Pitch_62 Duration_12 EOS",
        "BOS Bar TimeSig_4/4 Position_5 Pitch_60 Duration_12 Position_2 Pitch_62 Duration_12 EOS",
        "BOS Bar TimeSig_3/4 Position_36 Pitch_60 Duration_12 EOS",  # outside a 3/4 bar
        "BOS Bar TimeSig_4/4 Position_0 Pitch_64 Duration_12 Pitch_60 Duration_12 EOS",  # falling chord
        "BOS Bar TimeSig_4/4 Position_0 Pitch_64 Duration_12 Pitch_64 Duration_12 EOS",  # duplicate
        "BOS Bar TimeSig_4/4 Bar TimeSig_4/4 Position_0 Pitch_60 Duration_12 EOS",  # meter not changing
        "BOS Bar TimeSig_4/4 Position_0 Pitch_60 Duration_12 Bar EOS",  # trailing empty bar
        "BOS Bar TimeSig_4/4 Position_0 Duration_12 EOS",  # duration without pitch
        "BOS Bar TimeSig_4/4 Position_0 Pitch_60 EOS",  # pitch without duration
        "BOS Bar TimeSig_4/4 Position_0 EOS",  # position without note
        "BOS Bar TimeSig_4/4 Position_0 Pitch_60 Duration_12",  # no EOS
        "BOS EOS Bar",
    ],
)
def test_grammar_rejects(text: str) -> None:
    tok = TOKENIZERS["default"]
    assert not tok.is_valid(ids_of(tok, text))


@pytest.mark.parametrize(
    "text",
    [
        "BOS EOS",
        "BOS EOS PAD PAD",
        "BOS Bar TimeSig_3/4 Bar Bar TimeSig_6/8 Position_35 Pitch_21 Duration_96 Pitch_108 Duration_1 EOS",
    ],
)
def test_grammar_accepts(text: str) -> None:
    tok = TOKENIZERS["default"]
    ids = ids_of(tok, text)
    assert tok.is_valid(ids)
    np.testing.assert_array_equal(tok.encode(tok.decode(ids)), [i for i in ids if i != tok.pad_id])


def test_grammar_orders_programs_then_pitches() -> None:
    tok = TOKENIZERS["rich"]
    tempo = tok.token_to_str(tok.offsets[TEMPO] + 5)
    head = f"BOS Bar TimeSig_4/4 {tempo} Position_0 Program_40 Pitch_60 Velocity_72 Duration_2"
    assert tok.is_valid(ids_of(tok, head + " Program_40 Pitch_62 Velocity_72 Duration_2 EOS"))
    assert tok.is_valid(ids_of(tok, head + " Program_drums Pitch_36 Velocity_72 Duration_2 EOS"))
    assert not tok.is_valid(ids_of(tok, head + " Program_40 Pitch_55 Velocity_72 Duration_2 EOS"))
    assert not tok.is_valid(ids_of(tok, head + " Program_0 Pitch_62 Velocity_72 Duration_2 EOS"))
    assert not tok.is_valid(ids_of(tok, head + " Pitch_62 Velocity_72 Duration_2 EOS"))  # no program


def test_grammar_batch_matches_single_states() -> None:
    tok = TOKENIZERS["rich"]
    grammar = tok.grammar()
    rng = np.random.default_rng(1)
    sequences = [sample_sequence(grammar, rng, eos_bias=0.05) for _ in range(6)]
    length = max(map(len, sequences))
    batch = grammar.batch(len(sequences))
    singles = [grammar.start() for _ in sequences]
    for t in range(length):
        mask = batch.mask()
        assert mask.shape == (len(sequences), tok.vocab_size)
        step = np.array([s[t] if t < len(s) else tok.pad_id for s in sequences])
        for i, state in enumerate(singles):
            np.testing.assert_array_equal(mask[i], grammar.allowed(state))
            assert mask[i, step[i]]
            singles[i] = grammar.advance(state, step[i])
        batch.advance(step)
    assert batch.done.all()
    # An illegal token kills only its own row.
    batch = grammar.batch(2)
    batch.advance([tok.bos_id, tok.eos_id])
    assert grammar.failed(batch.state).tolist() == [False, True]
    assert not batch.mask()[1].any()


@pytest.mark.parametrize("name", sorted(TOKENIZERS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(piece=pieces())
def test_alignment(name: str, piece: Piece) -> None:
    tok = TOKENIZERS[name]
    ids = tok.encode(piece)
    owner = tok.align(ids)
    notes = tok.decode(ids).notes
    kind = tok.token_type[ids]
    assert owner.shape == ids.shape
    pitch_tokens = tok.token_value[ids[kind == PITCH]]
    np.testing.assert_array_equal(owner[kind == PITCH], np.arange(len(notes)))
    np.testing.assert_array_equal(pitch_tokens, notes["pitch"])
    # Every note owns pitch + duration (+ program, velocity); structural tokens own nothing.
    counts = np.bincount(owner[owner >= 0], minlength=len(notes))
    per_note = 2 + tok.config.use_programs + (tok.config.velocity_bins > 0)
    new_position = np.ones(len(notes), bool)
    new_position[1:] = np.diff(notes["onset"]) != 0
    np.testing.assert_array_equal(counts, per_note + new_position)
    assert (owner[kind < 6] == -1).all()


@pytest.mark.parametrize("name", ["default", "rich"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(piece=pieces(), seed=st.integers(0, 2**32 - 1))
def test_transposition_stays_in_range(name: str, piece: Piece, seed: int) -> None:
    tok = TOKENIZERS[name]
    ids = tok.encode(piece)
    low, high = tok.transpose_range(ids)
    assert low <= 0 <= high
    # Augmentation draws from the range clamped to +-max_shift, which always keeps every pitch in range.
    max_shift = seed % 13
    clamped = tok.transpose_range(ids, max_shift)
    assert -max_shift <= clamped[0] <= 0 <= clamped[1] <= max_shift
    assert clamped == (max(low, -max_shift), min(high, max_shift))  # nothing in range is left out
    assert all(tok.is_valid(tok.transpose_ids(ids, s)) for s in clamped)
    shift = int(np.random.default_rng(seed).integers(clamped[0], clamped[1] + 1))
    shifted = tok.transpose_ids(ids, shift)
    assert tok.is_valid(shifted)
    with pytest.raises(ConfigError, match="at least 0"):
        tok.transpose_range(ids, -1)
    before, after = tok.decode(ids).notes, tok.decode(shifted).notes
    moved = after["pitch"].astype(int) - before["pitch"]
    assert len(set(moved[~before["is_drum"]])) <= 1  # one shift for every pitched note
    assert (moved[before["is_drum"]] == 0).all()
    for semitones in (low, high):
        np.testing.assert_array_equal(
            tok.decode(tok.transpose_ids(ids, semitones)).notes, canon_transposed(tok, piece, semitones)
        )
    if (~before["is_drum"]).any():
        with pytest.raises(TokenizerError):
            tok.transpose_ids(ids, high + 1)


def canon_transposed(tok: RemiTokenizer, piece: Piece, semitones: int) -> np.ndarray:
    return tok.canonicalize(tok.canonicalize(piece).transpose(semitones)).notes


def test_config_json_round_trip_and_vocab_is_deterministic() -> None:
    for cfg in CONFIGS.values():
        again = TokenizerConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
        assert again == cfg
        assert RemiTokenizer(again).vocab == RemiTokenizer(cfg).vocab
    tok = TOKENIZERS["rich"]
    assert [tok.token_to_str(i) for i in (tok.pad_id, tok.bos_id, tok.eos_id, tok.bar_token_id)] == [
        "PAD",
        "BOS",
        "EOS",
        "Bar",
    ]
    assert all(tok.str_to_token(tok.token_to_str(i)) == i for i in range(tok.vocab_size))
    assert tok.token_to_str(tok.offsets[PROGRAM] + DRUM_PROGRAM) == "Program_drums"
    with pytest.raises(TokenizerError):
        tok.token_to_str(tok.vocab_size)
    with pytest.raises(TokenizerError):
        tok.str_to_token("Pitch_200")
    with pytest.raises(TokenizerError):
        tok.decode([tok.bos_id, tok.vocab_size])
    with pytest.raises(TokenizerError, match="1-D"):
        tok.decode(np.zeros((2, 3), np.int64))


@pytest.mark.parametrize(
    "bad",
    [
        {"steps_per_beat": 5},
        {"pitch_range": [60, 50]},
        {"max_duration": 0},
        {"max_duration": 7, "steps_per_beat": 4},
        {"max_bar_length": 40},
        {"velocity_bins": 200},
        {"time_signature_denominators": [3, 4]},
        {"time_signature_denominators": [8]},
        {"tempo_range": [0, 100]},
        {"no_such_option": 1},
    ],
)
def test_invalid_config(bad: dict) -> None:
    with pytest.raises(TokenizerError, match="tokenizer config"):
        TokenizerConfig.from_dict(bad)


def test_unsayable_bars_are_rebarred_without_moving_notes() -> None:
    """A 4/1 bar splits into two 8/4 bars; truncated bars of 28 steps end on the nearest bar line a meter
    token reaches (27 then 30 steps), after which the 2/4 bars run on a step later."""
    tok = TOKENIZERS["default"]
    notes = np.zeros(3, NOTE_DTYPE)
    notes["onset"] = [0, 100, 300]
    notes["duration"] = 12
    notes["pitch"] = 60
    ts = np.array([(0, 4, 1), (220, 3, 4), (248, 2, 4)], TIME_SIGNATURE_DTYPE)
    canon = tok.canonicalize(Piece(notes=notes, time_signatures=ts))
    np.testing.assert_array_equal(canon.notes["onset"], notes["onset"])
    assert canon.time_signatures.tolist() == [(0, 8, 4), (192, 9, 16), (219, 5, 8), (249, 2, 4)]


# -- real music -----------------------------------------------------------------------------------
REAL = [
    ("bach/bwv66.6", None),
    ("bach/bwv4.8", None),
    ("bach/bwv269", None),
    ("essenFolksong/han1.abc", 410),  # free meter: 25/16, 19/8, 15/4, 51/8 bars
    ("essenFolksong/altdeu10.abc", 1),  # 4/2 then 3/2
    ("essenFolksong/altdeu10.abc", 3),
    ("oneills1850/0001-0050.abc", 3),  # 4/4 then 7/8
    ("oneills1850/0001-0050.abc", 10),
]


@pytest.fixture(scope="module")
def real_pieces() -> list[Piece]:
    corpus = pytest.importorskip("music21.corpus")
    from remixmusic.io.music21 import score_to_piece

    return [score_to_piece(corpus.parse(path, number=number), source=path) for path, number in REAL]


@pytest.mark.parametrize("name", sorted(TOKENIZERS))
def test_real_pieces(name: str, real_pieces: list[Piece]) -> None:
    tok = TOKENIZERS[name]
    sequences = [tok.encode(p) for p in real_pieces]
    assert tok.grammar().validate(sequences).all()
    for piece, ids in zip(real_pieces, sequences, strict=True):
        assert len(piece.notes) > 20
        canon = tok.canonicalize(piece)
        assert_same_piece(tok.decode(ids), canon)
        np.testing.assert_array_equal(tok.encode(canon), ids)
        if name == "default":
            # On the full grid a score loses only unisons of merged voices, and keeps every bar line.
            assert len(canon.notes) == len(np.unique(piece.notes[["onset", "pitch"]]))
            np.testing.assert_array_equal(np.unique(canon.notes["onset"]), np.unique(piece.notes["onset"]))
            last = int(piece.notes["onset"].max())
            own_lines = piece.bar_starts(last + 1)
            assert set(own_lines[own_lines <= last]) <= set(canon.bar_starts(last + 1))


def corpus_round_trip(name: str) -> None:
    """Every piece of a dataset round-trips on the default and the REMI+ configs and follows the grammar."""
    from remixmusic.data.datasets import load_dataset
    from remixmusic.errors import DatasetError

    try:
        pieces = load_dataset(name).pieces()
    except DatasetError:
        pytest.skip(f"dataset {name} is not built (remixmusic dataset build {name})")
    assert pieces
    for tok in (TOKENIZERS["default"], RemiTokenizer(TokenizerConfig(use_programs=True))):
        sequences = [tok.encode(p) for p in pieces]
        assert tok.grammar().validate(sequences).all()
        for piece, ids in zip(pieces, sequences, strict=True):
            decoded = tok.decode(ids)
            assert_same_piece(decoded, tok.canonicalize(piece))
            np.testing.assert_array_equal(tok.encode(decoded), ids)


def test_committed_corpus_round_trips() -> None:
    corpus_round_trip("bach-chorales")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["essen", "oneills"])
def test_built_corpora_round_trip(name: str) -> None:
    corpus_round_trip(name)
