"""The REMI grammar as a vectorized state machine: which tokens may follow a prefix (constrained decoding).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic.errors import TokenizerError
from remixmusic.tokenizer.config import (
    BAR,
    BOS,
    DEFAULT_BAR,
    DURATION,
    EOS,
    PAD,
    PITCH,
    POSITION,
    PROGRAM,
    TEMPO,
    TIMESIG,
    VELOCITY,
)

if TYPE_CHECKING:
    from remixmusic.tokenizer.remi import RemiTokenizer

# Grammar phases: what the previous token was, as far as the next token cares.
(_START, _AFTER_BOS, _NEED_METER, _NEED_TEMPO, _AFTER_BAR, _AFTER_METER, _AFTER_TEMPO, _AFTER_POSITION,
 _AFTER_PROGRAM, _AFTER_PITCH, _AFTER_VELOCITY, _AFTER_DURATION, _DONE, _DEAD) = range(14)  # fmt: skip


STATE_DTYPE = np.dtype(
    [
        ("phase", "<i2"),
        ("seen_bar", "?"),
        ("meter", "<i2"),  # meter token index in force (-1: none yet)
        ("tempo", "<i2"),  # tempo bin in force (-1: none yet)
        ("position", "<i2"),  # current position in the bar (-1: none yet)
        ("program", "<i2"),  # program key of the last note at this position (-1: none)
        ("pitch", "<i2"),  # pitch of the last note of that program at this position (-1: none)
    ]
)
"""Grammar state of one sequence; arrays of it hold a batch."""


class Grammar:
    """The set of legal next tokens after any valid prefix: REMI in canonical order.

    Enforced: ``BOS`` first; each bar opens with ``Bar``, then (first bar: required) a meter and a tempo
    token where enabled, later ones only where they change; positions strictly increase within a bar and
    stay inside the bar of the current meter; a note (``[Program] Pitch [Velocity] Duration``) follows a
    Position or a previous note at the same position, with programs non-decreasing and, per program,
    pitches strictly increasing (the only order ``encode`` writes); ``EOS`` directly after ``BOS`` or a
    complete note (bars without notes cannot trail); only ``PAD`` after ``EOS``. Every prefix it accepts
    can be completed.

    States are ``STATE_DTYPE`` arrays of any shape, so one call serves a whole decoding batch: masks are
    a per-phase table row plus a few range comparisons, with no Python loop over the vocabulary.
    """

    def __init__(self, tokenizer: RemiTokenizer) -> None:
        self.tokenizer = tokenizer
        tok, cfg = tokenizer, tokenizer.config
        self.vocab_size = tok.vocab_size
        kind = tok.token_type
        note_start = PROGRAM if cfg.use_programs else PITCH
        has_velocity = tok.velocity_values is not None
        follows = {
            _START: {BOS},
            _AFTER_BOS: {BAR, EOS},
            _NEED_METER: {TIMESIG},
            _NEED_TEMPO: {TEMPO},
            _AFTER_BAR: {TIMESIG, TEMPO, POSITION, BAR},
            _AFTER_METER: {TEMPO, POSITION, BAR},
            _AFTER_TEMPO: {POSITION, BAR},
            _AFTER_POSITION: {note_start},
            _AFTER_PROGRAM: {PITCH},
            _AFTER_PITCH: {VELOCITY if has_velocity else DURATION},
            _AFTER_VELOCITY: {DURATION},
            _AFTER_DURATION: {BAR, EOS, POSITION, note_start},
            _DONE: {PAD},
            _DEAD: set(),
        }
        self._table = np.zeros((len(follows), self.vocab_size), bool)
        for phase, kinds in follows.items():
            self._table[phase] = np.isin(kind, list(kinds))
        off = tok.offsets
        self._slices = {
            k: slice(off[k], off[k] + int((kind == k).sum()))
            for k in (TIMESIG, TEMPO, POSITION, PROGRAM, PITCH)
        }
        self._values = {k: tok.token_value[s] for k, s in self._slices.items()}
        # Positions per bar for each meter index; index -1 (no meter) is the 4/4 default.
        self._bar_positions = np.append(tok.meter_lengths // tok.resolution, DEFAULT_BAR // tok.resolution)
        self._max_pitch = cfg.pitch_range[1]
        # Phase after a token of each type; row 1 for the first bar, whose meter and tempo are required.
        self._next_phase = np.full((2, DURATION + 1), _DONE, np.int16)  # EOS, or PAD after EOS
        after = {BOS: _AFTER_BOS, BAR: _AFTER_BAR, TIMESIG: _AFTER_METER, TEMPO: _AFTER_TEMPO,
                 POSITION: _AFTER_POSITION, PROGRAM: _AFTER_PROGRAM, PITCH: _AFTER_PITCH,
                 VELOCITY: _AFTER_VELOCITY, DURATION: _AFTER_DURATION}  # fmt: skip
        for kind_, phase in after.items():
            self._next_phase[:, kind_] = phase
        self._next_phase[1, TIMESIG] = _NEED_TEMPO if cfg.tempo_bins else _AFTER_METER
        self._next_phase[1, BAR] = (
            _NEED_METER if cfg.use_time_signatures else _NEED_TEMPO if cfg.tempo_bins else _AFTER_BAR
        )

    def start(self, shape: int | tuple[int, ...] = ()) -> np.ndarray:
        """The state before any token (``BOS`` comes next), for one sequence or a batch."""
        state = np.zeros(shape, STATE_DTYPE)
        for name in ("meter", "tempo", "position", "program", "pitch"):
            state[name] = -1
        return state

    def allowed(self, state: np.ndarray) -> np.ndarray:
        """Boolean mask of legal next tokens, shape ``state.shape + (vocab_size,)``."""
        mask = self._table[state["phase"]]
        self._restrict(mask, TIMESIG, lambda v: v != state["meter"][..., None])
        self._restrict(mask, TEMPO, lambda v: v != state["tempo"][..., None])
        positions = self._bar_positions[state["meter"]][..., None]
        self._restrict(mask, POSITION, lambda v: (v > state["position"][..., None]) & (v < positions))
        program, pitch = state["program"][..., None], state["pitch"][..., None]
        self._restrict(mask, PROGRAM, lambda v: (v > program) | ((v == program) & (pitch < self._max_pitch)))
        self._restrict(mask, PITCH, lambda v: v > pitch)
        return mask

    def _restrict(self, mask: np.ndarray, kind: int, rule: Any) -> None:
        where = self._slices[kind]
        if where.stop > where.start:
            mask[..., where] &= rule(self._values[kind])

    def advance(self, state: np.ndarray, token: np.ndarray | int) -> np.ndarray:
        """The state after ``token`` (elementwise over a batch); an illegal token leads to a dead state
        that allows nothing."""
        token = np.asarray(token, dtype=np.int64)
        if token.shape != state.shape:
            token = np.broadcast_to(token, state.shape)
        if token.size and (token.min() < 0 or token.max() >= self.vocab_size):
            raise TokenizerError(f"token id outside the vocabulary (size {self.vocab_size})")
        tok = self.tokenizer
        kind, value = tok.token_type[token], tok.token_value[token]
        phase = state["phase"]
        pos, program, pitch = state["position"], state["program"], state["pitch"]
        legal = self._table[phase, token]
        legal &= (kind != TIMESIG) | (value != state["meter"])
        legal &= (kind != TEMPO) | (value != state["tempo"])
        legal &= (kind != POSITION) | ((value > pos) & (value < self._bar_positions[state["meter"]]))
        legal &= (kind != PROGRAM) | (value > program) | ((value == program) & (pitch < self._max_pitch))
        legal &= (kind != PITCH) | (value > pitch)

        # The first Bar opens the required meter/tempo tokens, the first meter the required tempo.
        first = ~state["seen_bar"] | (phase == _NEED_METER)
        new = state.copy()
        new["seen_bar"] |= kind == BAR
        next_phase = self._next_phase[first.astype(np.intp), kind]
        new["phase"] = np.where(legal, next_phase, _DEAD)
        new["meter"] = np.where(kind == TIMESIG, value, state["meter"])
        new["tempo"] = np.where(kind == TEMPO, value, state["tempo"])
        opens = (kind == BAR) | (kind == POSITION)
        new["position"] = np.where(kind == POSITION, value, np.where(kind == BAR, -1, pos))
        new["program"] = np.where(kind == PROGRAM, value, np.where(opens, -1, program))
        new["pitch"] = np.where(
            kind == PITCH, value, np.where(opens | ((kind == PROGRAM) & (value != program)), -1, pitch)
        )
        return new

    def batch(self, size: int) -> GrammarBatch:
        """A batch of ``size`` sequences decoded in lockstep."""
        return GrammarBatch(self, size)

    def validate(self, sequences: Sequence[np.ndarray | Sequence[int]]) -> np.ndarray:
        """Whether each complete sequence follows the grammar (run in lockstep, one step per token)."""
        if not sequences:
            return np.zeros(0, bool)
        length = max(len(s) for s in sequences)
        padded = np.full((len(sequences), length), PAD, np.int64)
        for i, s in enumerate(sequences):
            padded[i, : len(s)] = s
        state = self.start(len(sequences))
        for t in range(length):
            state = self.advance(state, padded[:, t])
        return state["phase"] == _DONE

    def completed(self, state: np.ndarray) -> np.ndarray:
        """Whether each sequence has reached ``EOS``."""
        return state["phase"] == _DONE

    def failed(self, state: np.ndarray) -> np.ndarray:
        """Whether each sequence has taken an illegal token."""
        return state["phase"] == _DEAD


class GrammarBatch:
    """Grammar states of a decoding batch: call :meth:`mask` before each sampling step and
    :meth:`advance` with the sampled tokens after it."""

    def __init__(self, grammar: Grammar, size: int) -> None:
        self.grammar = grammar
        self.state = grammar.start(size)

    def mask(self) -> np.ndarray:
        """``(size, vocab_size)`` boolean mask of legal next tokens (``torch.from_numpy`` shares it)."""
        return self.grammar.allowed(self.state)

    def advance(self, tokens: np.ndarray) -> None:
        self.state = self.grammar.advance(self.state, np.asarray(tokens))

    @property
    def done(self) -> np.ndarray:
        return self.grammar.completed(self.state)
